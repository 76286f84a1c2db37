//! Promises whose failures carry this crate's codes. napi's own `async fn` can reject
//! only with napi's status codes; these settle on the JavaScript thread, where a
//! failure becomes the very Error (message and `code`, `error.rs`) that a synchronous
//! call throws. So every failure crosses one way, whatever the backend.

use std::future::Future;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{Env, JsError};

use super::error::{Error, Result};

/// Runs `fut` on napi's tokio runtime; the promise resolves to its value or rejects
/// with its error, as JavaScript gets it from a synchronous call.
pub fn promise<'env, T, F>(env: &'env Env, fut: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: 'static + Send + ToNapiValue,
    F: 'static + Send + Future<Output = Result<T>>,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, outcome| outcome.map_err(|e| rejection(env, e)))
}

/// The JavaScript Error for `e`, made on the JavaScript thread, as napi's rejection.
pub fn rejection(env: &Env, e: Error) -> napi::Error {
    napi::Error::from(JsError::from(e).into_unknown(*env))
}
