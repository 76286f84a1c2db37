//! Helpers shared by the integration tests that check the engine against a model of
//! their own (`planner.rs`, `properties.rs`). Each test file that uses them declares
//! `mod common;`.

/// `Date.prototype.toISOString` by counting days (a different method from the
/// engine's), for times from 1970 on.
pub fn iso(ms: i64) -> String {
    let mut days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let months = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= months[month] {
        days -= months[month];
        month += 1;
    }
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        month + 1,
        days + 1,
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}
