//! The FUSE filesystem: one directory of read-only files (named as ProcFile names them). A
//! file's text is computed when it is opened, for the process that opens it, and read from
//! that copy until it is closed, so that a reader sees one consistent file.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, Request,
};

use crate::files::loadavg::Loads;
use crate::files::ProcFile;
use crate::view::Hierarchies;

const ROOT: u64 = 1;
/// The directory does not change: the kernel may keep its attributes.
const DIR_TTL: Duration = Duration::from_secs(3600);
/// A file's attributes are asked for at each open: a read through the page cache (sendfile,
/// as busybox's cat does) shrinks the size the kernel keeps to what that reader got.
const FILE_TTL: Duration = Duration::ZERO;
/// The size a file claims. The text itself is shorter: read(2) (direct I/O) ends where it
/// ends; sendfile and splice read through the page cache, only as far as the size, and
/// would see nothing of a file of size 0 (as procfs gives) on kernels from 6.5.
const SIZE: u64 = 65536;

pub struct ProcFs {
    hierarchies: Hierarchies,
    loads: Loads,
    open: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    next_handle: AtomicU64,
    started: SystemTime,
}

impl ProcFs {
    pub fn new(hierarchies: Hierarchies, loads: Loads) -> ProcFs {
        ProcFs {
            hierarchies,
            loads,
            open: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            started: SystemTime::now(),
        }
    }

    fn attr(&self, ino: u64) -> FileAttr {
        let dir = ino == ROOT;
        FileAttr {
            ino: INodeNo(ino),
            size: if dir { 0 } else { SIZE },
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: if dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if dir { 0o555 } else { 0o444 },
            nlink: if dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn file(ino: u64) -> Option<ProcFile> {
        ProcFile::ALL
            .get(usize::try_from(ino.checked_sub(2)?).ok()?)
            .copied()
    }

    fn ino(file: ProcFile) -> u64 {
        2 + ProcFile::ALL.iter().position(|f| *f == file).unwrap_or(0) as u64
    }

    fn opened(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Vec<u8>>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Filesystem for ProcFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let file = name.to_str().and_then(ProcFile::by_name);
        match file {
            Some(f) if parent.0 == ROOT => {
                reply.entry(&FILE_TTL, &self.attr(Self::ino(f)), Generation(0))
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if ino.0 == ROOT {
            reply.attr(&DIR_TTL, &self.attr(ino.0));
        } else if Self::file(ino.0).is_some() {
            reply.attr(&FILE_TTL, &self.attr(ino.0));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let Some(file) = Self::file(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EACCES);
        }
        let text = file.render(&self.hierarchies, &self.loads, req.pid());
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.opened().insert(fh, Arc::new(text));
        // Direct I/O: reads go past the size of 0 the attributes give, and nothing is cached.
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(text) = self.opened().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let start = (offset as usize).min(text.len());
        let end = start.saturating_add(size as usize).min(text.len());
        reply.data(&text[start..end]);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.opened().remove(&fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino.0 != ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let mut entries = vec![
            (ROOT, FileType::Directory, "."),
            (ROOT, FileType::Directory, ".."),
        ];
        entries.extend(
            ProcFile::ALL
                .iter()
                .map(|f| (Self::ino(*f), FileType::RegularFile, f.name())),
        );
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
