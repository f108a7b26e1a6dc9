//! 四舍五入 (half-up rounding) on exact decimals — the only place a rounding rule is named.
//!
//! Every rounded figure of the amount engine goes through [`mul_div_round`], which
//! computes `round(a × b ÷ c, dp)` from the exact integer mantissas, so no
//! intermediate result is ever rounded or truncated: `2.675` rounds to `2.68`, and
//! `113 × 0.13 ÷ 1.13` is exactly `13.00`. Ties go away from zero
//! ([`RoundingStrategy::MidpointAwayFromZero`]): `0.125 → 0.13`, `−0.125 → −0.13`,
//! so a red (negative) line is always the exact mirror of its blue line.
//!
//! Nearly every input fits in `u64` (128-bit arithmetic is a library call in
//! WebAssembly); the rest take a slower exact path on 512-bit integers.

use rust_decimal::{Decimal, RoundingStrategy};

use super::money::POW10;

/// The rounding rule of every invoice amount: half-up, symmetric for negatives.
pub const HALF_UP: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// Rounds an exact decimal half-up to `dp` places.
///
/// ```
/// use fapiao::amount::rounding::round_half_up;
/// use rust_decimal::Decimal;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// assert_eq!(round_half_up(d("2.675"), 2), d("2.68"));
/// assert_eq!(round_half_up(d("-0.125"), 2), d("-0.13"));
/// ```
pub fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, HALF_UP)
}

/// `round(a × b ÷ c, dp)`, half-up, computed exactly. `None` when `c` is zero,
/// `dp` exceeds 28 or the result does not fit a [`Decimal`].
///
/// ```
/// use fapiao::amount::rounding::mul_div_round;
/// use rust_decimal::Decimal;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// // Tax included in ¥113.00 at 13%: 113 × 0.13 ÷ 1.13 = 13.00 exactly.
/// assert_eq!(mul_div_round(d("113"), d("0.13"), d("1.13"), 2), Some(d("13.00")));
/// // 1265.77 at 1%: 12.5323… → 12.53.
/// assert_eq!(mul_div_round(d("1265.77"), d("0.01"), d("1.01"), 2), Some(d("12.53")));
/// assert_eq!(mul_div_round(d("1"), d("1"), d("0"), 2), None);
/// ```
pub fn mul_div_round(a: Decimal, b: Decimal, c: Decimal, dp: u32) -> Option<Decimal> {
    if let Some(decided) = mul_div_round_u64(a, b, c, dp) {
        return decided;
    }
    let negative = a.is_sign_negative() ^ b.is_sign_negative() ^ c.is_sign_negative();
    let (ma, mb, mc) = (
        a.mantissa().unsigned_abs(),
        b.mantissa().unsigned_abs(),
        c.mantissa().unsigned_abs(),
    );
    let (num_pow, den_pow) = powers(a, b, c, dp);
    let q = wide(ma, mb, mc, num_pow, den_pow)?;
    let q = i128::try_from(q).ok()?;
    let q = if negative { -q } else { q };
    Decimal::try_from_i128_with_scale(q, dp).ok()
}

/// [`mul_div_round`] where the figures fit a `u64` (nearly every line's: 128-bit
/// arithmetic is a library call in WebAssembly), and where the answer needs no
/// arithmetic; `None` leaves it to the 512-bit path.
#[inline(always)]
fn mul_div_round_u64(a: Decimal, b: Decimal, c: Decimal, dp: u32) -> Option<Option<Decimal>> {
    if c.is_zero() || dp > Decimal::MAX_SCALE {
        return Some(None);
    }
    let (ma, mb, mc) = (
        a.mantissa().unsigned_abs(),
        b.mantissa().unsigned_abs(),
        c.mantissa().unsigned_abs(),
    );
    if ma == 0 || mb == 0 {
        return Some(Some(Decimal::new(0, dp)));
    }
    let negative = a.is_sign_negative() ^ b.is_sign_negative() ^ c.is_sign_negative();
    let (num_pow, den_pow) = powers(a, b, c, dp);
    let q = fast64(
        u64::try_from(ma).ok()?,
        u64::try_from(mb).ok()?,
        u64::try_from(mc).ok()?,
        num_pow,
        den_pow,
    )?;
    Some(Some(Decimal::from_parts(
        q as u32,
        (q >> 32) as u32,
        0,
        negative && q != 0,
        dp,
    )))
}

/// value = ma·mb / mc · 10^(sc − sa − sb); round(value · 10^dp) is
/// ma·mb·10^num / (mc·10^den): the powers (num, den).
#[inline(always)]
fn powers(a: Decimal, b: Decimal, c: Decimal, dp: u32) -> (u32, u32) {
    let e = i64::from(c.scale()) + i64::from(dp) - i64::from(a.scale()) - i64::from(b.scale());
    if e >= 0 {
        (e as u32, 0)
    } else {
        (0, e.unsigned_abs() as u32)
    }
}

/// Whether `|a × b − c| ≤ tolerance`, decided exactly (the product may need more
/// digits than a [`Decimal`] holds).
///
/// ```
/// use fapiao::amount::rounding::product_within;
/// use rust_decimal::Decimal;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// assert!(product_within(d("3"), d("3.33333333"), d("10.00"), d("0.01")));
/// assert!(product_within(d("3"), d("3.33"), d("10.00"), d("0.01")));  // 9.99: just within
/// assert!(!product_within(d("3"), d("3.32"), d("10.00"), d("0.01"))); // 9.96
/// ```
pub fn product_within(a: Decimal, b: Decimal, c: Decimal, tolerance: Decimal) -> bool {
    if let Some(within) = product_within_i64(a, b, c, tolerance) {
        return within;
    }
    // Bring a·b, c and the tolerance to one scale S and compare integers.
    let sp = a.scale() + b.scale();
    let s = sp.max(c.scale()).max(tolerance.scale());
    let prod = Wide::from(a.mantissa().unsigned_abs())
        .mul(&Wide::from(b.mantissa().unsigned_abs()))
        .and_then(|w| w.mul_pow10(s - sp));
    let other = Wide::from(c.mantissa().unsigned_abs()).mul_pow10(s - c.scale());
    let tol = Wide::from(tolerance.mantissa().unsigned_abs()).mul_pow10(s - tolerance.scale());
    let (Some(prod), Some(other), Some(tol)) = (prod, other, tol) else {
        return false;
    };
    let prod_negative = (a.is_sign_negative() ^ b.is_sign_negative()) && !prod.is_zero();
    let other_negative = c.is_sign_negative() && !other.is_zero();
    let diff = if prod_negative == other_negative {
        if prod >= other {
            prod.sub(&other)
        } else {
            other.sub(&prod)
        }
    } else {
        match prod.add(&other) {
            Some(sum) => sum,
            None => return false,
        }
    };
    diff <= tol
}

/// [`product_within`] in `i64`, `None` when a figure does not fit (then the
/// 512-bit path decides).
#[inline(always)]
fn product_within_i64(a: Decimal, b: Decimal, c: Decimal, tolerance: Decimal) -> Option<bool> {
    let sp = a.scale() + b.scale();
    let s = sp.max(c.scale()).max(tolerance.scale());
    let (ma, mb) = (i64::try_from(a.mantissa()).ok()?, i64::try_from(b.mantissa()).ok()?);
    let (mc, mt) = (
        i64::try_from(c.mantissa()).ok()?,
        i64::try_from(tolerance.mantissa()).ok()?,
    );
    let prod = up_i64(ma.checked_mul(mb)?, s - sp)?;
    let other = up_i64(mc, s - c.scale())?;
    let tol = up_i64(mt.checked_abs()?, s - tolerance.scale())?;
    Some(prod.checked_sub(other)?.checked_abs()? <= tol)
}

/// `m × 10^by`, `None` on overflow.
#[inline(always)]
fn up_i64(m: i64, by: u32) -> Option<i64> {
    m.checked_mul(i64::try_from(*POW10.get(by as usize)?).ok()?)
}

/// [`product_within`] in `i128`, `None` when a figure does not fit: the tests'
/// second opinion on the `i64` and 512-bit paths.
#[cfg(test)]
fn product_within_fast(a: Decimal, b: Decimal, c: Decimal, tolerance: Decimal, sp: u32, s: u32) -> Option<bool> {
    let scale = |m: i128, from: u32| m.checked_mul(i128::try_from(pow10_u128(s - from)?).ok()?);
    let prod = scale(a.mantissa().checked_mul(b.mantissa())?, sp)?;
    let other = scale(c.mantissa(), c.scale())?;
    let tol = scale(tolerance.mantissa().abs(), tolerance.scale())?;
    Some(prod.checked_sub(other)?.checked_abs()? <= tol)
}

/// `value` without trailing zeros, as [`Decimal::normalize`] gives it (and no
/// negative zero), by `u64` division where the mantissa fits one.
#[inline(always)]
pub(crate) fn normalize(value: Decimal) -> Decimal {
    let Ok(mut m) = u64::try_from(value.mantissa().unsigned_abs()) else {
        return value.normalize();
    };
    let mut scale = value.scale();
    while scale > 0 && m % 10 == 0 {
        m /= 10;
        scale -= 1;
    }
    if m == 0 {
        scale = 0;
    }
    Decimal::from_parts(m as u32, (m >> 32) as u32, 0, value.is_sign_negative() && m != 0, scale)
}

/// [`fast`] in `u64`, `None` on overflow (then [`fast`] decides).
#[inline(always)]
fn fast64(ma: u64, mb: u64, mc: u64, np: u32, dp: u32) -> Option<u64> {
    let num = ma.checked_mul(mb)?.checked_mul(*POW10.get(np as usize)?)?;
    let den = mc.checked_mul(*POW10.get(dp as usize)?)?;
    let (q, r) = (num / den, num % den);
    if r >= den - r {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

#[cfg(test)]
fn pow10_u128(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// Half-up `ma·mb·10^np / (mc·10^dp)` in `u128`, `None` on overflow: the tests'
/// second opinion on the `u64` and 512-bit paths.
#[cfg(test)]
fn fast(ma: u128, mb: u128, mc: u128, np: u32, dp: u32) -> Option<u128> {
    let num = ma.checked_mul(mb)?.checked_mul(pow10_u128(np)?)?;
    let den = mc.checked_mul(pow10_u128(dp)?)?;
    let (q, r) = (num / den, num % den);
    // r < den, so r ≥ den − r is "2r ≥ den" without overflow.
    if r >= den - r {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

fn wide(ma: u128, mb: u128, mc: u128, np: u32, dp: u32) -> Option<u128> {
    let num = Wide::from(ma).mul(&Wide::from(mb))?.mul_pow10(np)?;
    let den = Wide::from(mc).mul_pow10(dp)?;
    let (q, r) = num.div_rem(&den)?;
    let q = if r >= den.sub(&r) { q.add(&Wide::from(1))? } else { q };
    q.to_u128()
}

const LIMBS: usize = 8;

/// An unsigned 512-bit integer, little-endian 64-bit limbs. Enough for the
/// largest product this crate forms (two 96-bit mantissas times 10^41).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Wide([u64; LIMBS]);

impl From<u128> for Wide {
    fn from(v: u128) -> Self {
        let mut l = [0u64; LIMBS];
        l[0] = v as u64;
        l[1] = (v >> 64) as u64;
        Wide(l)
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wide {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl Wide {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    fn to_u128(self) -> Option<u128> {
        if self.0[2..].iter().any(|&l| l != 0) {
            return None;
        }
        Some(u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }

    fn mul(&self, other: &Wide) -> Option<Wide> {
        let mut out = [0u64; LIMBS];
        for (i, &x) in self.0.iter().enumerate() {
            if x == 0 {
                continue;
            }
            let mut carry: u128 = 0;
            for (j, &y) in other.0.iter().enumerate() {
                let t = u128::from(x) * u128::from(y) + carry;
                if i + j >= LIMBS {
                    if t != 0 {
                        return None;
                    }
                    continue;
                }
                let t = t + u128::from(out[i + j]);
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            if carry != 0 {
                return None;
            }
        }
        Some(Wide(out))
    }

    fn mul_small(&self, m: u64) -> Option<Wide> {
        let mut out = [0u64; LIMBS];
        let mut carry: u128 = 0;
        for (o, &x) in out.iter_mut().zip(self.0.iter()) {
            let t = u128::from(x) * u128::from(m) + carry;
            *o = t as u64;
            carry = t >> 64;
        }
        (carry == 0).then_some(Wide(out))
    }

    fn mul_pow10(&self, mut n: u32) -> Option<Wide> {
        let mut w = *self;
        while n > 0 {
            let step = n.min(19);
            w = w.mul_small(10u64.pow(step))?;
            n -= step;
        }
        Some(w)
    }

    fn add(&self, other: &Wide) -> Option<Wide> {
        let mut out = [0u64; LIMBS];
        let mut carry = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (s1, c1) = self.0[i].overflowing_add(other.0[i]);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *o = s2;
            carry = c1 || c2;
        }
        (!carry).then_some(Wide(out))
    }

    /// `self − other`; callers guarantee `self ≥ other`.
    fn sub(&self, other: &Wide) -> Wide {
        let mut out = [0u64; LIMBS];
        let mut borrow = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (d1, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            *o = d2;
            borrow = b1 || b2;
        }
        Wide(out)
    }

    fn bits(&self) -> u32 {
        for i in (0..LIMBS).rev() {
            if self.0[i] != 0 {
                return (i as u32) * 64 + (64 - self.0[i].leading_zeros());
            }
        }
        0
    }

    fn bit(&self, i: u32) -> bool {
        (self.0[(i / 64) as usize] >> (i % 64)) & 1 == 1
    }

    fn shl1_or(&self, low: bool) -> Wide {
        let mut out = [0u64; LIMBS];
        let mut carry = u64::from(low);
        for (o, &x) in out.iter_mut().zip(self.0.iter()) {
            *o = (x << 1) | carry;
            carry = x >> 63;
        }
        Wide(out)
    }

    fn set_bit(&mut self, i: u32) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }

    /// Schoolbook binary long division; `None` for a zero divisor.
    fn div_rem(&self, d: &Wide) -> Option<(Wide, Wide)> {
        if d.is_zero() {
            return None;
        }
        let mut q = Wide([0; LIMBS]);
        let mut r = Wide([0; LIMBS]);
        for i in (0..self.bits()).rev() {
            r = r.shl1_or(self.bit(i));
            if r >= *d {
                r = r.sub(d);
                q.set_bit(i);
            }
        }
        Some((q, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn half_up_on_exact_decimals_not_binary_floats() {
        assert_eq!(
            mul_div_round(d("2.675"), Decimal::ONE, Decimal::ONE, 2),
            Some(d("2.68"))
        );
        assert_eq!(
            mul_div_round(d("-2.675"), Decimal::ONE, Decimal::ONE, 2),
            Some(d("-2.68"))
        );
        assert_eq!(
            mul_div_round(d("0.005"), Decimal::ONE, Decimal::ONE, 2),
            Some(d("0.01"))
        );
        assert_eq!(
            mul_div_round(d("0.00499999999"), Decimal::ONE, Decimal::ONE, 2),
            Some(d("0.00"))
        );
        assert_eq!(round_half_up(d("1.005"), 2), d("1.01"));
    }

    #[test]
    fn division_is_exact_half_up() {
        // 10 ÷ 3 = 3.333…, 20 ÷ 3 = 6.666… → 6.67; 1 ÷ 8 = 0.125 → 0.13.
        assert_eq!(mul_div_round(d("10"), Decimal::ONE, d("3"), 2), Some(d("3.33")));
        assert_eq!(mul_div_round(d("20"), Decimal::ONE, d("3"), 2), Some(d("6.67")));
        assert_eq!(mul_div_round(d("1"), Decimal::ONE, d("8"), 2), Some(d("0.13")));
        assert_eq!(mul_div_round(d("1"), Decimal::ONE, d("-8"), 2), Some(d("-0.13")));
    }

    #[test]
    fn wide_path_agrees_with_fast_path() {
        // Twenty-five-digit operands overflow u128 in the product and take the wide path.
        let q = d("123456789012.3456789012345");
        let p = d("987654321098.7654321098765");
        let r = mul_div_round(q, p, Decimal::ONE, 2);
        // Exact product 121932631137021795226184.960347… (checked with Python's decimal).
        assert_eq!(r, Some(d("121932631137021795226184.96")));
        let fast_only = fast(7, 11, 3, 0, 0);
        let wide_only = wide(7, 11, 3, 0, 0);
        assert_eq!(fast_only, wide_only);
        assert_eq!(fast_only, Some(26)); // 77/3 = 25.67 → 26
        assert_eq!(wide(u128::MAX, 2, 4, 0, 0), Some(u128::MAX / 2 + 1));
    }

    #[test]
    fn tolerance_is_decided_exactly() {
        assert!(product_within(d("3"), d("3.33333333"), d("10.00"), d("0.01")));
        assert!(product_within(d("-2"), d("5.005"), d("-10.00"), d("0.01")));
        assert!(!product_within(d("-2"), d("5.006"), d("-10.00"), d("0.01")));
        assert!(!product_within(d("2"), d("5"), d("-10.00"), d("0.01")));
        // 0.0000000000001 over the tolerance is over.
        assert!(!product_within(d("1"), d("10.0100000000001"), d("10.00"), d("0.01")));
        assert!(product_within(d("1"), d("10.01"), d("10.00"), d("0.01")));
    }

    /// The `u64` paths (rounding, normalising, the tolerance) answer as the wider
    /// ones do, over random mantissas of every size and scales 0–28.
    #[test]
    fn u64_paths_match_the_wide_ones() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) % n
        };
        let dec = |next: &mut dyn FnMut(u64) -> u64| {
            let digits = next(21) as u32;
            let m = (next(u64::MAX) % 10u64.saturating_pow(digits).max(1)) as i64;
            let m = if next(2) == 0 { m } else { -m };
            Decimal::new(m, next(29) as u32)
        };
        let (mut rounded, mut within) = (0, 0);
        for _ in 0..100_000 {
            let (a, b, c) = (dec(&mut next), dec(&mut next), dec(&mut next));
            let dp = next(14) as u32;
            let (ma, mb, mc) = (
                a.mantissa().unsigned_abs(),
                b.mantissa().unsigned_abs(),
                c.mantissa().unsigned_abs(),
            );
            let (np, dq) = (next(12) as u32, next(12) as u32);
            if let Some(q) = fast64(ma as u64, mb as u64, mc.max(1) as u64, np, dq) {
                rounded += 1;
                assert_eq!(
                    Some(u128::from(q)),
                    wide(ma, mb, mc.max(1), np, dq),
                    "{ma} {mb} {mc} {np} {dq}"
                );
            }
            assert_eq!(
                (
                    normalize(a).mantissa(),
                    normalize(a).scale(),
                    normalize(a).is_sign_negative()
                ),
                (
                    a.normalize().mantissa(),
                    a.normalize().scale(),
                    a.normalize().is_sign_negative()
                ),
                "{a:?}"
            );
            let tol = Decimal::new(next(100) as i64, next(3) as u32);
            let (sp, s) = (
                a.scale() + b.scale(),
                (a.scale() + b.scale()).max(c.scale()).max(tol.scale()),
            );
            if let Some(w) = product_within_i64(a, b, c, tol) {
                within += 1;
                assert_eq!(Some(w), product_within_fast(a, b, c, tol, sp, s), "{a} {b} {c} {tol}");
            }
            // mul_div_round as a whole, against the u128/512-bit paths alone.
            if !c.is_zero() {
                let e = i64::from(c.scale()) + i64::from(dp) - i64::from(a.scale()) - i64::from(b.scale());
                let (np, dq) = if e >= 0 {
                    (e as u32, 0)
                } else {
                    (0, e.unsigned_abs() as u32)
                };
                let slow = fast(ma, mb, mc, np, dq).or_else(|| wide(ma, mb, mc, np, dq));
                let want = slow.and_then(|q| {
                    let q = i128::try_from(q).ok()?;
                    let neg = a.is_sign_negative() ^ b.is_sign_negative() ^ c.is_sign_negative();
                    Decimal::try_from_i128_with_scale(if neg { -q } else { q }, dp).ok()
                });
                let want = if ma == 0 || mb == 0 {
                    Some(Decimal::new(0, dp))
                } else {
                    want
                };
                let got = mul_div_round(a, b, c, dp);
                assert_eq!(
                    got.map(|g| (g.mantissa(), g.scale())),
                    want.map(|w| (w.mantissa(), w.scale())),
                    "{a} {b} {c} {dp}"
                );
            }
        }
        // Both outcomes of each path occur often enough to mean something.
        assert!(rounded > 5_000 && rounded < 95_000, "{rounded}");
        assert!(within > 3_000, "{within}");
    }

    #[test]
    fn overflow_is_none_not_a_panic() {
        assert_eq!(mul_div_round(Decimal::MAX, Decimal::MAX, Decimal::ONE, 2), None);
        assert_eq!(mul_div_round(Decimal::ONE, Decimal::ONE, Decimal::ONE, 29), None);
        assert!(!product_within(Decimal::MAX, Decimal::MAX, Decimal::ONE, d("0.01")));
    }
}
