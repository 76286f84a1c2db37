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
    use super::iso;

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
