//! The clock of the logging hot path: wall-clock time read from the CPU's time-stamp counter,
//! at a third of the cost of `clock_gettime` (about 8 ns instead of 23 ns on the development
//! VM, where the clock read was a third of a `log_metrics` call).
//!
//! How it keeps the real-time clock's value:
//! - It is used only where the kernel itself reads time from the TSC (the clocksource is `tsc`,
//!   so the counter is invariant and synchronised across CPUs) and the CPU says the counter is
//!   invariant; anywhere else, and with `SIMVUE_CLOCK=system`, every read is `clock_gettime`.
//! - An anchor pairs a counter reading with `CLOCK_REALTIME`; a read extrapolates from it with
//!   the counter's rate, for at most [`HORIZON_NS`] (1 ms). A read past that takes a new anchor
//!   (one `clock_gettime`), so a step or slew of the real-time clock (NTP) shows within 1 ms, and
//!   the error of the extrapolation is at most the slew over 1 ms (0.5 µs at the kernel's
//!   500 ppm limit) plus the rate's error over 1 ms.
//! - The rate is measured against `CLOCK_MONOTONIC_RAW` (no NTP steps or slews), over a window
//!   that grows from the first read: extrapolation starts once it spans [`MIN_WINDOW_TICKS`]
//!   (7 ms at 3 GHz; until then a read costs a counter read more than the clock's), and each
//!   new anchor refines it.
//! - Each new anchor checks the counter against the raw clock since the last one; a gap the
//!   rate's error does not explain (a counter the kernel stopped trusting, a migrated VM) turns
//!   the fast path off for good.
//!
//! Timestamps stay microseconds, truncated as `clock_gettime`'s are; two reads a new anchor
//! separates may be out of order by the extrapolation's error (well under a microsecond).

use std::sync::atomic::{fence, AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};

use super::clock_ns;

/// How long a read may extrapolate from its anchor.
pub const HORIZON_NS: u64 = 1_000_000;

/// How many ticks the rate is measured over before it is used (the pair reads' error, some
/// 50 ns, is then at most 10 ppm of the window at 5 GHz).
pub const MIN_WINDOW_TICKS: u64 = 20_000_000;

/// A pair of clock reads bracketed by counter reads longer than this (the thread was
/// preempted, or runs under a slow emulator) is not used as an anchor.
const MAX_BRACKET_TICKS: u64 = 20_000;

/// The anchor, behind a sequence lock: `SEQ` is odd while a thread writes it.
static SEQ: AtomicU64 = AtomicU64::new(0);
/// Counter reading of the anchor.
static TSC: AtomicU64 = AtomicU64::new(0);
/// `CLOCK_REALTIME` of the anchor, in nanoseconds since the epoch.
static REAL_NS: AtomicI64 = AtomicI64::new(0);
/// `CLOCK_MONOTONIC_RAW` of the anchor (for the check of the next one).
static RAW_NS: AtomicI64 = AtomicI64::new(0);
/// Nanoseconds per tick, times 2^32; 0 while the rate is not measured.
static MULT: AtomicU64 = AtomicU64::new(0);
/// Start of the rate's window (written under the lock): counter, and `CLOCK_MONOTONIC_RAW`.
static BASE_TSC: AtomicU64 = AtomicU64::new(0);
static BASE_RAW: AtomicI64 = AtomicI64::new(0);
/// 0: not decided yet; 1: the counter may be used; 2: it may not.
static USABLE: AtomicU8 = AtomicU8::new(0);
/// Set when a check found the extrapolation wrong.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Microseconds since the epoch, or `None` where the counter is not used (the caller reads
/// the real-time clock).
#[inline]
pub fn now_us() -> Option<i64> {
    let t = counter()?;
    let s = SEQ.load(Ordering::Acquire);
    let (tsc, real, mult) = (
        TSC.load(Ordering::Relaxed),
        REAL_NS.load(Ordering::Relaxed),
        MULT.load(Ordering::Relaxed),
    );
    fence(Ordering::Acquire);
    if s & 1 == 0 && SEQ.load(Ordering::Relaxed) == s && mult != 0 {
        // A counter read before another thread's newer anchor wraps to a huge delta: slow path.
        let delta_ns = ((t.wrapping_sub(tsc) as u128 * mult as u128) >> 32) as u64;
        if delta_ns < HORIZON_NS {
            return Some((real + delta_ns as i64).div_euclid(1000));
        }
    }
    reanchor(t)
}

/// The time-stamp counter, where it may be used.
#[inline(always)]
fn counter() -> Option<u64> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        if USABLE.load(Ordering::Relaxed) == 1 {
            // SAFETY: RDTSC exists on every x86_64 CPU; `usable` checked it is invariant.
            return Some(unsafe { core::arch::x86_64::_rdtsc() });
        }
        if USABLE.load(Ordering::Relaxed) == 0 && decide() {
            // SAFETY: as above.
            return Some(unsafe { core::arch::x86_64::_rdtsc() });
        }
    }
    None
}

/// Decides once whether the counter may be used; returns the decision.
#[cold]
#[allow(dead_code)] // unused where the counter never is
fn decide() -> bool {
    let ok = usable();
    let _ = USABLE.compare_exchange(
        0,
        if ok { 1 } else { 2 },
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    USABLE.load(Ordering::Relaxed) == 1
}

/// Whether the counter is invariant and the kernel's own clocksource, and the user did not
/// ask for the system clock.
#[allow(dead_code)]
fn usable() -> bool {
    if std::env::var("SIMVUE_CLOCK").is_ok_and(|v| v.eq_ignore_ascii_case("system")) {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        // Leaf 0x80000007 is read only when the highest extended leaf says it exists.
        use core::arch::x86_64::__cpuid;
        let invariant =
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0;
        let kernel_uses_it = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc");
        invariant && kernel_uses_it
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    false
}

/// The slow path: reads the real-time clock (the answer), and makes it the new anchor when
/// no other thread is writing one, measuring the rate on the way. `t` is a counter reading
/// from before.
#[cold]
#[inline(never)]
fn reanchor(t: u64) -> Option<i64> {
    if DISABLED.load(Ordering::Relaxed) {
        return None;
    }
    if MULT.load(Ordering::Relaxed) == 0 {
        // Measuring the rate: the caller reads the clock, until the window is long enough.
        let base = BASE_TSC.load(Ordering::Relaxed);
        if base != 0 && t.wrapping_sub(base) < MIN_WINDOW_TICKS {
            return None;
        }
    }
    // The real-time and raw clocks, between two counter reads.
    let a = counter()?;
    let real = clock_ns(libc::CLOCK_REALTIME);
    let raw = clock_ns(libc::CLOCK_MONOTONIC_RAW);
    let b = counter()?;
    let real = real?;
    let answer = Some(real.div_euclid(1000));
    let Some(raw) = raw.filter(|_| b.wrapping_sub(a) <= MAX_BRACKET_TICKS) else {
        return answer;
    };
    let tsc = a + (b - a) / 2;
    let s = SEQ.load(Ordering::Relaxed);
    if s & 1 == 1
        || SEQ
            .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return answer; // another thread is writing the anchor
    }
    fence(Ordering::Release);
    let (old_tsc, old_mult) = (TSC.load(Ordering::Relaxed), MULT.load(Ordering::Relaxed));
    let (base_tsc, base_raw) = (
        BASE_TSC.load(Ordering::Relaxed),
        BASE_RAW.load(Ordering::Relaxed),
    );
    let mut mult = old_mult;
    if base_raw == 0 {
        BASE_TSC.store(tsc, Ordering::Relaxed);
        BASE_RAW.store(raw, Ordering::Relaxed);
    } else if tsc.wrapping_sub(base_tsc) >= MIN_WINDOW_TICKS && raw - base_raw >= 1_000_000 {
        let ns = (raw - base_raw) as u128;
        mult = ((ns << 32) / (tsc - base_tsc) as u128) as u64;
    }
    if old_mult != 0 && tsc > old_tsc {
        // The counter against the raw clock since the old anchor (the real-time clock may
        // step or slew, the raw clock does neither): they differ by the rate's error only, so
        // a gap beyond 1000 ppm, plus 20 µs for the reads themselves, is the counter's fault.
        let ticks_ns = (((tsc - old_tsc) as u128 * old_mult as u128) >> 32) as i64;
        let raw_ns = raw - RAW_NS.load(Ordering::Relaxed);
        if (ticks_ns - raw_ns).abs() > 20_000 + raw_ns.abs() / 1000 {
            DISABLED.store(true, Ordering::Relaxed);
        }
    }
    if DISABLED.load(Ordering::Relaxed) {
        MULT.store(0, Ordering::Relaxed);
    } else {
        TSC.store(tsc, Ordering::Relaxed);
        REAL_NS.store(real, Ordering::Relaxed);
        RAW_NS.store(raw, Ordering::Relaxed);
        MULT.store(mult, Ordering::Relaxed);
    }
    SEQ.store(s + 2, Ordering::Release);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_us() -> i64 {
        crate::time::Timestamp::now().0
    }

    /// Read against the system clock for 60 ms (past the rate's window, across many anchors):
    /// every fast read lies between the system reads around it, within 2 µs.
    #[test]
    fn agrees_with_the_real_time_clock() {
        let start = system_us();
        let mut fast_reads = 0u64;
        let mut worst = 0i64;
        while system_us() - start < 60_000 {
            let before = system_us();
            let Some(t) = now_us() else {
                continue; // the rate is still measured, or no usable counter here
            };
            let after = system_us();
            worst = worst.max(before - t).max(t - after);
            fast_reads += 1;
        }
        assert!(
            worst <= 2,
            "a fast read was {worst} µs outside the system reads around it"
        );
        if USABLE.load(Ordering::Relaxed) != 1 {
            assert_eq!(fast_reads, 0, "no fast read without a usable counter");
            return;
        }
        assert!(fast_reads > 1000, "{fast_reads} fast reads");
        // Where the counter is used, the check between anchors never found it wrong (the
        // kernel trusts it as its clocksource) and the rate was measured.
        if USABLE.load(Ordering::Relaxed) == 1 {
            assert!(
                !DISABLED.load(Ordering::Relaxed),
                "the counter was found wrong"
            );
            assert_ne!(MULT.load(Ordering::Relaxed), 0, "the rate was measured");
        }
    }
}
