//! Energy and emissions, logged with the resource metrics when emission metrics are enabled,
//! under the Python client's names (`simvue/eco/emissions_monitor.py` `simvue_metrics`):
//! `sustainability.energy_consumed.{total,delta}` in kWh and `sustainability.emissions.{total,
//! delta}` in kg of CO2 equivalent, `delta` being the interval since the previous sample.
//!
//! The energy is measured where the machine tells it, and estimated as the Python client does
//! otherwise:
//!
//! - CPU: the package domains of Linux RAPL (`/sys/class/powercap/intel-rapl:<n>/energy_uj`,
//!   also on AMD), where readable (recent kernels let only root read them): the energy of the
//!   whole CPU packages, every process on them included (on a node the job has to itself, the
//!   job's). Otherwise the Python client's estimate: CPU percent of the process tree / 100 x
//!   TDP per CPU / cores per CPU (`[eco] cpu_thermal_design_power`, default 80 W;
//!   `cpu_n_cores`, default 4).
//! - GPU, for the GPUs the process tree uses: NVML's energy counter, else its power reading x
//!   the interval, else utilisation / 100 x `[eco] gpu_thermal_design_power` (default 130 W).
//!
//! Emissions are the energy times `[eco] co2_intensity` (g CO2e per kWh); no value is looked up
//! online, so without it only the energy is logged. Where each figure came from is recorded in
//! the run's metadata as `sustainability` ([`EnergySettings::describe`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::gpu::GpuSample;
use crate::config::Eco;
use crate::json::Json;

/// The Python client's defaults (`CO2Monitor.check_api_arguments`).
const DEFAULT_CPU_TDP: f64 = 80.0;
const DEFAULT_CPU_CORES: f64 = 4.0;
const DEFAULT_GPU_TDP: f64 = 130.0;

const POWERCAP: &str = "/sys/class/powercap";
const JOULES_PER_KWH: f64 = 3.6e6;

/// Metric names.
pub const ENERGY_TOTAL: &str = "sustainability.energy_consumed.total";
/// See [`ENERGY_TOTAL`].
pub const ENERGY_DELTA: &str = "sustainability.energy_consumed.delta";
/// See [`ENERGY_TOTAL`].
pub const EMISSIONS_TOTAL: &str = "sustainability.emissions.total";
/// See [`ENERGY_TOTAL`].
pub const EMISSIONS_DELTA: &str = "sustainability.emissions.delta";

/// One RAPL package domain.
#[derive(Debug, Clone)]
struct Domain {
    energy: PathBuf,
    /// Where the counter wraps, µJ.
    range: u64,
}

impl Domain {
    fn read(&self) -> Option<u64> {
        std::fs::read_to_string(&self.energy)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// The readable RAPL package domains under `root` (`intel-rapl:<n>`, not their subdomains, not
/// `psys`, which would count the packages twice).
fn rapl_domains(root: &Path) -> Vec<Domain> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Domain)> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_str()?.to_owned();
            let index = name.strip_prefix("intel-rapl:")?;
            if index.contains(':') {
                return None;
            }
            let kind = std::fs::read_to_string(e.path().join("name")).ok()?;
            if !kind.trim().starts_with("package") {
                return None;
            }
            let range = std::fs::read_to_string(e.path().join("max_energy_range_uj"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(u64::MAX);
            let d = Domain {
                energy: e.path().join("energy_uj"),
                range,
            };
            d.read().is_some().then_some((name, d))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, d)| d).collect()
}

/// What the energy figures rest on, decided when the run starts.
#[derive(Debug, Clone)]
pub struct EnergySettings {
    /// g CO2e per kWh, when known.
    pub co2_intensity: Option<f64>,
    cpu_tdp: f64,
    cpu_cores: f64,
    gpu_tdp: f64,
    rapl_root: PathBuf,
    /// RAPL is readable here.
    rapl: bool,
    /// NVML is loaded.
    nvml: bool,
}

impl EnergySettings {
    /// The settings from `[eco]`, probing RAPL and NVML on this machine.
    pub fn probe(eco: &Eco) -> EnergySettings {
        EnergySettings::probe_at(eco, Path::new(POWERCAP), super::gpu::Gpus::open().is_some())
    }

    fn probe_at(eco: &Eco, rapl_root: &Path, nvml: bool) -> EnergySettings {
        EnergySettings {
            co2_intensity: eco.co2_intensity,
            cpu_tdp: eco.cpu_thermal_design_power.unwrap_or(DEFAULT_CPU_TDP),
            cpu_cores: eco.cpu_n_cores.map_or(DEFAULT_CPU_CORES, |n| n as f64),
            gpu_tdp: eco.gpu_thermal_design_power.unwrap_or(DEFAULT_GPU_TDP),
            rapl_root: rapl_root.to_owned(),
            rapl: !rapl_domains(rapl_root).is_empty(),
            nvml,
        }
    }

    /// The run's metadata `sustainability`: where the CPU and GPU energy come from and the
    /// carbon intensity used.
    pub fn describe(&self) -> Json {
        let cpu = if self.rapl {
            Json::from("measured: RAPL package energy (all processes on the CPU packages)")
        } else {
            Json::from(format!(
                "estimated: CPU percent x {} W / {} cores",
                fmt_num(self.cpu_tdp),
                fmt_num(self.cpu_cores)
            ))
        };
        let gpu = if self.nvml {
            Json::from(format!(
                "measured: NVML energy counter or power, of the GPUs the processes use (else utilisation x {} W)",
                fmt_num(self.gpu_tdp)
            ))
        } else {
            Json::from("none: NVML is not available")
        };
        Json::object()
            .with("cpu_energy", cpu)
            .with("gpu_energy", gpu)
            .with("co2_intensity", self.co2_intensity)
            .with("co2_intensity_unit", "g CO2e/kWh")
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Accumulates energy and emissions sample by sample.
pub struct Meter {
    settings: EnergySettings,
    rapl: Vec<(Domain, u64)>,
    /// Each GPU's energy counter at the previous sample, J.
    gpu_counters: HashMap<u32, f64>,
    last: Instant,
    total_kwh: f64,
    total_kg: f64,
}

impl Meter {
    /// Starts metering now (the first sample covers the time since).
    pub fn new(settings: EnergySettings) -> Meter {
        let rapl = if settings.rapl {
            rapl_domains(&settings.rapl_root)
                .into_iter()
                .filter_map(|d| d.read().map(|v| (d, v)))
                .collect()
        } else {
            Vec::new()
        };
        Meter {
            settings,
            rapl,
            gpu_counters: HashMap::new(),
            last: Instant::now(),
            total_kwh: 0.0,
            total_kg: 0.0,
        }
    }

    /// The metric values for the interval since the previous sample, given the process tree's
    /// CPU percent and the GPUs it uses.
    pub fn sample(&mut self, cpu_percent: f64, gpus: &[GpuSample]) -> Vec<(Arc<str>, f64)> {
        let now = Instant::now();
        let seconds = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let joules = self.cpu_joules(cpu_percent, seconds) + self.gpu_joules(gpus, seconds);
        let kwh = joules / JOULES_PER_KWH;
        self.total_kwh += kwh;
        let mut values = vec![
            (Arc::from(ENERGY_TOTAL), self.total_kwh),
            (Arc::from(ENERGY_DELTA), kwh),
        ];
        if let Some(g_per_kwh) = self.settings.co2_intensity {
            let kg = kwh * g_per_kwh / 1000.0;
            self.total_kg += kg;
            values.push((Arc::from(EMISSIONS_TOTAL), self.total_kg));
            values.push((Arc::from(EMISSIONS_DELTA), kg));
        }
        values
    }

    fn cpu_joules(&mut self, cpu_percent: f64, seconds: f64) -> f64 {
        let mut measured = None;
        for (d, last) in &mut self.rapl {
            if let Some(v) = d.read() {
                let delta = if v >= *last {
                    v - *last
                } else {
                    v + d.range.saturating_sub(*last)
                };
                *last = v;
                *measured.get_or_insert(0.0) += delta as f64 / 1e6;
            }
        }
        measured.unwrap_or_else(|| {
            cpu_percent / 100.0 * self.settings.cpu_tdp / self.settings.cpu_cores * seconds
        })
    }

    fn gpu_joules(&mut self, gpus: &[GpuSample], seconds: f64) -> f64 {
        let mut joules = 0.0;
        for g in gpus {
            let from_counter = g.energy_j.and_then(|now| {
                let before = self.gpu_counters.insert(g.index, now)?;
                (now >= before).then_some(now - before)
            });
            joules += from_counter
                .or_else(|| g.power_w.map(|w| w * seconds))
                .unwrap_or(g.utilisation / 100.0 * self.settings.gpu_tdp * seconds);
        }
        joules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_rapl(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("simvue-rapl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, name, uj) in [
            ("intel-rapl:0", "package-0", "1000000"),
            ("intel-rapl:1", "package-1", "9999000000"),
            ("intel-rapl:0:0", "core", "5"),
            ("intel-rapl:2", "psys", "7"),
        ] {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(d.join("energy_uj"), uj).unwrap();
            std::fs::write(d.join("max_energy_range_uj"), "10000000000").unwrap();
        }
        root
    }

    fn value(values: &[(Arc<str>, f64)], name: &str) -> Option<f64> {
        values.iter().find(|(n, _)| &**n == name).map(|(_, v)| *v)
    }

    #[test]
    fn rapl_packages_are_measured_across_a_wrap() {
        let root = fake_rapl("measure");
        let eco = Eco {
            co2_intensity: Some(200.0),
            ..Eco::default()
        };
        let s = EnergySettings::probe_at(&eco, &root, false);
        assert!(s.rapl);
        let mut m = Meter::new(s);
        // Package 0 used 3.6 kJ; package 1 wrapped at 10 kJ after 1 J, then used 600 J more.
        std::fs::write(root.join("intel-rapl:0/energy_uj"), "3601000000").unwrap();
        std::fs::write(root.join("intel-rapl:1/energy_uj"), "600000000").unwrap();
        let v = m.sample(50.0, &[]);
        let kwh = (3600.0 + 1.0 + 600.0) / 3.6e6;
        assert!(
            (value(&v, ENERGY_DELTA).unwrap() - kwh).abs() < 1e-12,
            "{v:?}"
        );
        assert!((value(&v, EMISSIONS_DELTA).unwrap() - kwh * 0.2).abs() < 1e-12);
        let v = m.sample(50.0, &[]);
        assert_eq!(value(&v, ENERGY_DELTA), Some(0.0));
        assert!((value(&v, ENERGY_TOTAL).unwrap() - kwh).abs() < 1e-12);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn without_rapl_the_python_clients_estimate() {
        let s = EnergySettings::probe_at(&Eco::default(), Path::new("/nonexistent"), false);
        assert!(!s.rapl);
        let mut m = Meter::new(s.clone());
        m.last -= std::time::Duration::from_secs(10);
        let v = m.sample(200.0, &[]);
        // 200 % of a core x 80 W / 4 cores for 10 s = 400 J.
        let kwh = value(&v, ENERGY_DELTA).unwrap();
        assert!((kwh * 3.6e6 - 400.0).abs() < 1.0, "{kwh}");
        assert_eq!(
            value(&v, EMISSIONS_TOTAL),
            None,
            "no intensity: no emissions"
        );
        let d = s.describe();
        assert!(d
            .get("cpu_energy")
            .and_then(Json::as_str)
            .unwrap()
            .contains("80 W / 4 cores"));
        assert_eq!(d.get("co2_intensity"), Some(&Json::Null));
    }

    #[test]
    fn gpus_by_counter_then_power_then_utilisation() {
        let s = EnergySettings::probe_at(&Eco::default(), Path::new("/nonexistent"), true);
        let mut m = Meter::new(s);
        let gpu = |index, energy_j, power_w| GpuSample {
            index,
            utilisation: 50.0,
            memory: 10.0,
            energy_j,
            power_w,
        };
        // First sample: no counter baseline yet, so power (GPU 0); no power: 50 % of 130 W.
        let seconds = 2.0;
        let j = m.gpu_joules(
            &[gpu(0, Some(1000.0), Some(100.0)), gpu(1, None, None)],
            seconds,
        );
        assert!((j - (200.0 + 130.0)).abs() < 1e-9, "{j}");
        let j = m.gpu_joules(&[gpu(0, Some(1250.0), Some(100.0))], seconds);
        assert!((j - 250.0).abs() < 1e-9, "the counter: {j}");
    }
}
