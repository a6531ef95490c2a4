// Lambda hands an instance one event at a time, so a single-threaded runtime serves as well
// and starts no worker threads on a cold start (password hashing runs on the blocking pool).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    userhub::lambda::serve(userhub_users::routes()).await
}
