#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    userhub::lambda::serve(userhub_auth::routes()).await
}
