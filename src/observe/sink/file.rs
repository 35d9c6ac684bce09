//! A log file rotated by size and age with a retention count:
//! `path` is current, `path.1` the newest rotated file, `path.N` the oldest
//! kept; rotating past `retain` deletes the oldest.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::spec_logging::FileSinkSpec;

#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    opened: Instant,
    max_bytes: u64,
    max_age: Option<Duration>,
    retain: u32,
}

impl RotatingFile {
    pub fn open(spec: &FileSinkSpec) -> std::io::Result<Self> {
        let path = PathBuf::from(&spec.path);
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            size,
            opened: Instant::now(),
            max_bytes: spec.max_bytes.max(1),
            max_age: spec.max_age,
            retain: spec.retain,
        })
    }

    /// The rotated file number `n` (`path.n`).
    pub fn rotated(path: &Path, n: u32) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn due(&self, incoming: usize) -> bool {
        if self.size == 0 {
            return false;
        }
        let too_big = self.size.saturating_add(incoming as u64) > self.max_bytes;
        let too_old = self.max_age.is_some_and(|age| self.opened.elapsed() >= age);
        too_big || too_old
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        if self.retain == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            // Shift path.(n-1) → path.n; the rename onto path.retain drops
            // the oldest kept file.
            for n in (1..self.retain).rev() {
                let from = Self::rotated(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, Self::rotated(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, Self::rotated(&self.path, 1))?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        self.opened = Instant::now();
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // Logs can hold client addresses and paths: owner and group only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    options.open(path)
}

impl Write for RotatingFile {
    /// Writes all of `data` (whole records, see `sink`) to one file, so a
    /// record never straddles a rotation.
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.due(data.len()) {
            self.rotate()?;
        }
        self.file.write_all(data)?;
        self.size += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &Path, max_bytes: u64, retain: u32) -> FileSinkSpec {
        FileSinkSpec {
            path: path.display().to_string(),
            max_bytes,
            max_age: None,
            retain,
            hash_chain: false,
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_retain_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut f = RotatingFile::open(&spec(&path, 20, 2)).unwrap();
        for i in 0..5 {
            f.write_all(format!("record-{i:02}-xxxxx\n").as_bytes())
                .unwrap();
        }
        f.flush().unwrap();
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "record-04-xxxxx\n");
        assert_eq!(read(RotatingFile::rotated(&path, 1)), "record-03-xxxxx\n");
        assert_eq!(read(RotatingFile::rotated(&path, 2)), "record-02-xxxxx\n");
        assert!(!RotatingFile::rotated(&path, 3).exists());
    }

    #[test]
    fn rotates_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut s = spec(&path, u64::MAX, 1);
        s.max_age = Some(Duration::ZERO);
        let mut f = RotatingFile::open(&s).unwrap();
        f.write_all(b"one\n").unwrap();
        f.write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_to_string(RotatingFile::rotated(&path, 1)).unwrap(),
            "one\n"
        );
    }
}
