//! Clock capture (`live/clock.json`): the host's UTC and local time, time zone, boot time,
//! uptime, the kernel's clock-discipline state, and the host clock's offset from the
//! responder's trusted reference when one is given.
//!
//! Owns reading the clocks. It must never set or adjust any clock (`adjtimex` is called
//! with no mode bits, which only reads).

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx, ReferenceTime};

pub const KIND: CaptureKind = CaptureKind {
    name: "clock",
    member: "live/clock.json",
    schema: "fieldkit.live.clock",
    reads: "CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, adjtimex (read), /proc/stat, /proc/uptime, time zone",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockState {
    /// The host's clock when read, RFC 3339 UTC with nanoseconds.
    pub host_utc: String,
    /// The same instant in the host's local time, with its UTC offset.
    pub host_local: String,
    /// IANA zone name of the host (`/etc/localtime`), or what the OS reports.
    pub time_zone: String,
    pub utc_offset_seconds: i32,
    /// The `TZ` environment variable fieldkit was started with, when set (it overrides
    /// the system zone for programs started from that shell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz_environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceOffset>,
    /// When the system booted, RFC 3339 UTC (host clock minus time since boot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time_utc: Option<String>,
    /// The kernel's own boot time (`btime` in /proc/stat, whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_btime_utc: Option<String>,
    /// Seconds since boot, including suspend (CLOCK_BOOTTIME / /proc/uptime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    /// CLOCK_MONOTONIC in seconds (excludes suspend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocksource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<NtpDiscipline>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferenceOffset {
    /// The responder's reading as typed.
    pub given: String,
    pub given_utc: String,
    /// Host clock minus reference, exact, in nanoseconds (positive: the host is ahead).
    pub host_minus_reference_ns: i64,
    /// The same in seconds, for reading.
    pub host_minus_reference_seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NtpDiscipline {
    /// False when the kernel reports TIME_ERROR (clock not synchronised).
    pub synchronized: bool,
    pub offset_us: i64,
    pub max_error_us: i64,
    pub est_error_us: i64,
    pub status_bits: i32,
}

impl Captured for ClockState {
    fn detail(&self) -> String {
        match &self.reference {
            Some(r) => format!(
                "host clock {} ({:+.3} s against reference {})",
                self.host_utc, r.host_minus_reference_seconds, r.given
            ),
            None => format!("host clock {} ({})", self.host_utc, self.time_zone),
        }
    }
}

/// Host minus reference, exactly; `None` beyond ±292 years.
pub fn offset_from_reference(
    host: jiff::Timestamp,
    reference: &ReferenceTime,
) -> Option<ReferenceOffset> {
    let ns = i64::try_from(host.as_nanosecond() - reference.utc.as_nanosecond()).ok()?;
    Some(ReferenceOffset {
        given: reference.given.clone(),
        given_utc: reference.utc.to_string(),
        host_minus_reference_ns: ns,
        host_minus_reference_seconds: ns as f64 / 1e9,
    })
}

fn local_fields(now: jiff::Timestamp, state: &mut ClockState) {
    let tz = match jiff::tz::TimeZone::try_system() {
        Ok(tz) => tz,
        Err(e) => {
            state.notes.push(format!("system time zone unknown: {e}"));
            jiff::tz::TimeZone::UTC
        }
    };
    let offset = tz.to_offset(now);
    state.utc_offset_seconds = offset.seconds();
    state.host_local = now.display_with_offset(offset).to_string();
    state.time_zone = tz.iana_name().unwrap_or("unnamed").to_string();
    state.tz_environment = std::env::var("TZ").ok();
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx, reference: Option<&ReferenceTime>) -> Result<ClockState, String> {
    use super::sys;
    // Read the clocks first and together: everything else describes this instant.
    let clocks = sys::realtime_and_boottime_ns();
    let monotonic = sys::clock_ns(libc::CLOCK_MONOTONIC);
    let now = match clocks {
        Some((real, _)) => jiff::Timestamp::from_nanosecond(real)
            .map_err(|e| format!("CLOCK_REALTIME out of range: {e}"))?,
        None => jiff::Timestamp::now(),
    };
    let mut state = ClockState {
        host_utc: now.to_string(),
        ..ClockState::default()
    };
    local_fields(now, &mut state);
    state.reference = reference.and_then(|r| offset_from_reference(now, r));
    if let Some((real, boot)) = clocks {
        state.uptime_seconds = Some(boot as f64 / 1e9);
        state.boot_time_utc = jiff::Timestamp::from_nanosecond(real - boot)
            .ok()
            .map(|t| t.to_string());
    }
    state.monotonic_seconds = monotonic.map(|m| m as f64 / 1e9);
    let proc = &ctx.roots.proc;
    match sys::read_kernel(&proc.join("stat"), 1 << 20) {
        Ok(stat) => {
            state.kernel_btime_utc = String::from_utf8_lossy(&stat)
                .lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .and_then(|s| crate::timefmt::unix_utc(s, 0));
        }
        Err(e) => state
            .notes
            .push(format!("{}: {e}", proc.join("stat").display())),
    }
    if !ctx.roots.is_real() {
        // Synthetic roots: /proc/uptime of the tree, not of this machine.
        if let Some(up) = sys::read_attr(&proc.join("uptime"))
            .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        {
            state.uptime_seconds = Some(up);
        }
    }
    state.clocksource = sys::read_attr(
        &ctx.roots
            .sys
            .join("devices/system/clocksource/clocksource0/current_clocksource"),
    );
    state.ntp = sys::ntp_state().map(|n| NtpDiscipline {
        synchronized: n.synchronized,
        offset_us: n.offset_us,
        max_error_us: n.max_error_us,
        est_error_us: n.est_error_us,
        status_bits: n.status,
    });
    Ok(state)
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx, reference: Option<&ReferenceTime>) -> Result<ClockState, String> {
    let now = jiff::Timestamp::now();
    let mut state = ClockState {
        host_utc: now.to_string(),
        ..ClockState::default()
    };
    local_fields(now, &mut state);
    state.reference = reference.and_then(|r| offset_from_reference(now, r));
    if let Ok(boot) = sysinfo::System::boot_time() {
        state.boot_time_utc = i64::try_from(boot)
            .ok()
            .and_then(|b| crate::timefmt::unix_utc(b, 0));
    }
    if let Ok(up) = sysinfo::System::uptime() {
        state.uptime_seconds = Some(up as f64);
    }
    state
        .notes
        .push("monotonic clock, clock source and NTP state: not yet on this OS".to_string());
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_exact_to_the_nanosecond_and_signed() {
        let reference = ReferenceTime::parse("2026-11-23T15:05:00+01:00").unwrap();
        let host: jiff::Timestamp = "2026-11-23T14:05:03.000000007Z".parse().unwrap();
        let off = offset_from_reference(host, &reference).unwrap();
        assert_eq!(off.host_minus_reference_ns, 3_000_000_007);
        assert_eq!(off.given_utc, "2026-11-23T14:05:00Z");
        let behind: jiff::Timestamp = "2026-11-23T14:04:58.5Z".parse().unwrap();
        let off = offset_from_reference(behind, &reference).unwrap();
        assert_eq!(off.host_minus_reference_ns, -1_500_000_000);
        assert_eq!(off.host_minus_reference_seconds, -1.5);
    }

    #[test]
    fn a_reference_without_a_zone_is_refused() {
        assert!(ReferenceTime::parse("2026-11-23T14:05:00").is_err());
        assert!(ReferenceTime::parse("yesterday").is_err());
    }
}
