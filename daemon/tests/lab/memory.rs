//! Searching the memory of a live process for byte strings, as root:
//! every private writable mapping of `/proc/PID/maps` (heap, stacks,
//! anonymous memory, the data of the binary and its libraries) read
//! through `/proc/PID/mem`. This is where anything a process decrypted,
//! parsed or logged would be; read-only mappings (code, constants) cannot
//! hold what arrived at run time.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::capture::contains;
use super::error::{LabError, Result};

/// Bytes read per step (consecutive steps overlap by a needle's length).
const CHUNK: usize = 1 << 20;

/// What a scan read and found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Bytes of memory read.
    pub bytes: usize,
    /// Mappings that could not be read (gone, or not readable after all).
    pub unreadable: usize,
    /// For each needle, whether it occurs.
    pub found: Vec<bool>,
}

/// Searches the writable memory of process `pid` for each of `needles`.
pub fn scan(pid: u32, needles: &[&[u8]]) -> Result<Scan> {
    let maps_path = format!("/proc/{pid}/maps");
    let maps =
        std::fs::read_to_string(&maps_path).map_err(|e| LabError::io(maps_path.clone(), e))?;
    let mem_path = format!("/proc/{pid}/mem");
    let mem = File::open(&mem_path).map_err(|e| LabError::io(mem_path.clone(), e))?;
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(1) - 1;
    let mut scan = Scan {
        bytes: 0,
        unreadable: 0,
        found: vec![false; needles.len()],
    };
    let mut buf = vec![0u8; CHUNK + overlap];
    for (start, end) in writable(&maps) {
        let mut at = start;
        let mut kept = 0;
        while at < end {
            let want = usize::try_from((end - at).min(CHUNK as u64)).expect("a chunk fits");
            match mem.read_exact_at(&mut buf[kept..kept + want], at) {
                Ok(()) => {}
                Err(_) => {
                    scan.unreadable += 1;
                    break;
                }
            }
            let window = &buf[..kept + want];
            for (hit, needle) in scan.found.iter_mut().zip(needles) {
                *hit = *hit || contains(window, needle);
            }
            scan.bytes += want;
            at += want as u64;
            kept = overlap.min(kept + want);
            let len = window.len();
            buf.copy_within(len - kept..len, 0);
        }
    }
    Ok(scan)
}

/// The address ranges of the private writable mappings in a maps file.
fn writable(maps: &str) -> Vec<(u64, u64)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            if !(perms.starts_with("rw") && perms.ends_with('p')) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let start = u64::from_str_radix(a, 16).ok()?;
            let end = u64::from_str_radix(b, 16).ok()?;
            Some((start, end))
        })
        .collect()
}
