//! Save times: milliseconds since the Unix epoch, as JavaScript's `Date.now()` gives
//! them, and their ISO 8601 text exactly as `Date.prototype.toISOString` writes it.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Appends `ms` formatted as `Date.prototype.toISOString` does, including the
/// six-digit signed years JavaScript uses outside 0000..=9999.
pub fn write_iso(out: &mut String, ms: Millis) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        push_padded(out, year, 4);
    } else {
        out.push(if year < 0 { '-' } else { '+' });
        push_padded(out, year.abs(), 6);
    }
    out.push('-');
    push_padded(out, month, 2);
    out.push('-');
    push_padded(out, day, 2);
    out.push('T');
    push_padded(out, in_day / 3_600_000, 2);
    out.push(':');
    push_padded(out, in_day / 60_000 % 60, 2);
    out.push(':');
    push_padded(out, in_day / 1000 % 60, 2);
    out.push('.');
    push_padded(out, in_day % 1000, 3);
    out.push('Z');
}

pub fn iso(ms: Millis) -> String {
    let mut s = String::with_capacity(24);
    write_iso(&mut s, ms);
    s
}

/// Reads the text `write_iso` writes (`Date.prototype.toISOString`'s form, and only
/// that form) back into milliseconds; `None` for anything else.
pub fn parse_iso(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    let (year, rest) = match b.first()? {
        b'+' | b'-' => {
            let y = digits(b.get(1..7)?)?;
            (if b[0] == b'-' { -y } else { y }, b.get(7..)?)
        }
        _ => (digits(b.get(0..4)?)?, b.get(4..)?),
    };
    // -MM-DDTHH:MM:SS.mmmZ
    if rest.len() != 20 || rest[0] != b'-' || rest[3] != b'-' || rest[6] != b'T' || rest[9] != b':' {
        return None;
    }
    if rest[12] != b':' || rest[15] != b'.' || rest[19] != b'Z' {
        return None;
    }
    let month = digits(&rest[1..3])?;
    let day = digits(&rest[4..6])?;
    let (hour, minute, second, milli) =
        (digits(&rest[7..9])?, digits(&rest[10..12])?, digits(&rest[13..15])?, digits(&rest[16..19])?);
    if !(1..=12).contains(&month) || day < 1 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // A day past the month's end (`02-30`) would come back as another date.
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    let ms = days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli;
    // JavaScript's dates end 8.64e15 ms either side of 1970.
    (ms.abs() <= 8_640_000_000_000_000).then_some(ms)
}

/// The number written in ASCII digits, and nothing else.
fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// Howard Hinnant's civil-to-days algorithm, the inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends `n` (non-negative) with at least `width` digits, without allocating.
fn push_padded(out: &mut String, n: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    let mut n = n.unsigned_abs();
    while n > 0 {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = at.min(buf.len() - width);
    for &b in &buf[start..] {
        out.push(b as char);
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::{iso, parse_iso};

    #[test]
    fn parses_what_it_writes_and_nothing_else() {
        for ms in
            [0, 1_700_000_000_123, 951_782_400_000, -1, 253_402_300_800_000, -62_198_755_200_000, 8_640_000_000_000_000]
        {
            assert_eq!(parse_iso(&iso(ms)), Some(ms), "{}", iso(ms));
        }
        for bad in [
            "",
            "2020-02-30T00:00:00.000Z",
            "2020-01-01T00:00:00Z",
            "2020-01-01 00:00:00.000Z",
            "2020-13-01T00:00:00.000Z",
            "+275760-09-13T00:00:00.001Z",
            "2020-01-01T24:00:00.000Z",
            "x020-01-01T00:00:00.000Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_to_iso_string() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(253_402_300_800_000), "+010000-01-01T00:00:00.000Z");
        assert_eq!(iso(-62_198_755_200_000), "-000001-01-01T00:00:00.000Z");
        assert_eq!(iso(8_640_000_000_000_000), "+275760-09-13T00:00:00.000Z");
    }
}
