//! A job file's sections as fio reads them: a line-based INI where a
//! `[global]` applies to the sections after it (on top of any earlier
//! `[global]`) and every other section is a job, even with a name used
//! before; and which options of a section the model reads.

use crate::LabError;

/// Options that describe reporting, naming, data content or the layout of
/// the file, none of which changes an IOThread's polling.
const NO_EFFECT: &[&str] = &[
    "name",
    "description",
    "group_reporting",
    "time_based",
    "size",
    "filesize",
    "io_size",
    "randrepeat",
    "norandommap",
    "random_generator",
    "randseed",
    "thread",
    "new_group",
    "output-format",
    "write_bw_log",
    "write_lat_log",
    "write_iops_log",
    "log_avg_msec",
    "per_job_logs",
    "lat_percentiles",
    "clat_percentiles",
    "percentile_list",
    "refill_buffers",
    "buffer_compress_percentage",
    "scramble_buffers",
    "zero_buffers",
    "invalidate",
    "allow_mounted_write",
    "disable_lat",
    "disable_clat",
    "disable_slat",
    "exitall",
    "fallocate",
    "create_on_open",
    "unlink",
    "overwrite",
    "offset",
    "cpus_allowed",
    "cpus_allowed_policy",
    "cpumask",
];

/// What each modelled option of one section (after [global]) says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Section {
    pub(super) rw: Option<String>,
    pub(super) rwmixread: Option<String>,
    pub(super) rwmixwrite: Option<String>,
    pub(super) bs: Option<String>,
    pub(super) iodepth: Option<String>,
    pub(super) numjobs: Option<String>,
    pub(super) runtime: Option<String>,
    pub(super) ramp_time: Option<String>,
    pub(super) filename: Option<String>,
    pub(super) ioengine: Option<String>,
    pub(super) direct: Option<String>,
    /// `stonewall` or `wait_for_previous`: runs after the jobs before it.
    pub(super) serial: Option<String>,
}

impl Section {
    pub(super) fn set(&mut self, key: &str, value: Option<String>) -> bool {
        let slot = match key {
            "rw" | "readwrite" => &mut self.rw,
            "rwmixread" => &mut self.rwmixread,
            "rwmixwrite" => &mut self.rwmixwrite,
            "bs" | "blocksize" => &mut self.bs,
            "iodepth" => &mut self.iodepth,
            "numjobs" => &mut self.numjobs,
            "runtime" => &mut self.runtime,
            "ramp_time" => &mut self.ramp_time,
            "filename" => &mut self.filename,
            "ioengine" => &mut self.ioengine,
            "direct" => &mut self.direct,
            "stonewall" | "wait_for_previous" => {
                self.serial = Some(value.unwrap_or_else(|| "1".into()));
                return true;
            }
            _ => return false,
        };
        *slot = value;
        true
    }
}

pub(super) fn err(origin: &str, msg: String) -> LabError {
    LabError::Input(format!("{origin}: {msg}"))
}

/// Sections in file order (a name may repeat), each with its options in
/// file order; a bare option has no value.
pub(super) type IniMap = Vec<(String, Vec<(String, Option<String>)>)>;

/// The job file as fio's parser reads it: one `[section]` or `key=value`
/// (or bare `key`) a line, `;` and `#` starting a comment, blanks around
/// names and values dropped. Refused: an `include`, options before the
/// first section, and a line that is neither.
pub(super) fn read_ini(text: &str, origin: &str) -> Result<IniMap, LabError> {
    let mut map: IniMap = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split([';', '#']).next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("include ") {
            return Err(err(
                origin,
                "'include' directives are not supported: inline the included file".into(),
            ));
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .map(str::trim)
                .filter(|n| !n.is_empty());
            let Some(name) = name else {
                return Err(err(
                    origin,
                    format!("line {}: not a section header: {raw:?}", n + 1),
                ));
            };
            map.push((name.to_string(), Vec::new()));
            continue;
        }
        let Some((_, keys)) = map.last_mut() else {
            return Err(err(
                origin,
                "options before the first [section]: put them under [global]".into(),
            ));
        };
        keys.push(match line.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
            None => (line.to_string(), None),
        });
    }
    Ok(map)
}

/// A job file's sections: the jobs, each with the `[global]`s before it
/// under it, and the options not modelled (ignored as having no effect, or
/// unknown).
pub(super) struct Sections {
    pub(super) jobs: Vec<(String, Section)>,
    pub(super) ignored: Vec<String>,
    pub(super) unknown: Vec<String>,
}

/// Reads every section's options as fio does: a `[global]` adds to the
/// defaults of the jobs after it (not before), and every other section is
/// a job, even with a name used before.
pub(super) fn sections(map: &IniMap) -> Sections {
    let mut ignored: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut global = Section::default();
    let mut jobs: Vec<(String, Section)> = Vec::new();
    for (name, keys) in map {
        let mut s = global.clone();
        for (key, value) in keys {
            if s.set(key, value.clone()) {
                continue;
            }
            let bare = key.trim_start_matches("no");
            let list = if NO_EFFECT.contains(&key.as_str()) || NO_EFFECT.contains(&bare) {
                &mut ignored
            } else {
                &mut unknown
            };
            if !list.iter().any(|k| k == key) {
                list.push(key.clone());
            }
        }
        if name == "global" {
            global = s;
        } else {
            jobs.push((name.clone(), s));
        }
    }
    Sections {
        jobs,
        ignored,
        unknown,
    }
}
