// Unlike the other HTTP functions, auth keeps the multi-threaded runtime: under a
// single-threaded one a warm login took 31 ms instead of 22 ms (p50, `make bench`), the
// difference all CPU time of this process around the argon2 verify, for 0.3 ms less of cold
// start. Why is not known yet.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    userhub::lambda::serve(userhub_auth::routes()).await
}
