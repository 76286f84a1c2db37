//! The part of `whoami`'s API that tokio-postgres uses: the user's name, for a
//! connection string that names no user (libpq's default), from the environment.

/// The user's name: `USER` (Unix) or `USERNAME` (Windows).
pub fn username() -> std::io::Result<String> {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no user name in the connection string, and neither USER nor USERNAME is set",
        )
    })
}
