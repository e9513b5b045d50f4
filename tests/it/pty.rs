//! Running the binary on a pseudo-terminal, as an operator does: prompts appear, keys
//! are typed (Ctrl-C included, which the terminal turns into SIGINT), and the terminal
//! settings it leaves behind can be read.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose standard input, output and error are a terminal.
pub struct Term {
    master: std::fs::File,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Term {
    /// Starts `cmd` as the leader of a new session whose controlling terminal is a fresh pty.
    pub fn spawn(mut cmd: Command) -> Term {
        let mut master: libc::c_int = 0;
        let mut slave: libc::c_int = 0;
        let size = libc::winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty"));
        cmd.stdin(stdio(&slave)).stdout(stdio(&slave)).stderr(stdio(&slave)).env("COLUMNS", "200");
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start the binary on a pty");
        drop(slave);
        drop(cmd);
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("clone the pty master");
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child and every copy of the slave are gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Term { master, child, out }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything the process wrote so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output holds `needle`; fails the test (showing the output) if not in time.
    pub fn expect(&mut self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.output().contains(needle) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{needle:?} did not appear within {within:?}; the output was:\n{}", self.output());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                if !self.output().contains(needle) {
                    panic!("the process ended ({status}) before {needle:?} appeared; the output was:\n{}", self.output());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `bytes` on the terminal ("\x03" is Ctrl-C, "\r" is Enter).
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to the pty");
        self.master.flush().expect("flush the pty");
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: libc::c_int) {
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// The exit code, waiting at most `within`; a process still running then is killed
    /// and the test fails: it hung.
    pub fn exit_code(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                use std::os::unix::process::ExitStatusExt;
                return status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the process did not end within {within:?} (it hung); the output was:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the terminal echoes what is typed (a hidden prompt must give it back).
    pub fn echoes(&self) -> bool {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        assert_eq!(unsafe { libc::tcgetattr(self.master.as_raw_fd(), t.as_mut_ptr()) }, 0);
        let t = unsafe { t.assume_init() };
        t.c_lflag & libc::ECHO != 0
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for a child without a terminal, at most `within`: its exit code (128 + the
/// signal for a process a signal ended), or a failed test if it hung.
pub fn exit_code(child: &mut Child, within: Duration) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {within:?} (it hung)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
