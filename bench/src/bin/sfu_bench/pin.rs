//! `--pin`: each server on core 0 alone and the bot on core 1. Unpinned,
//! a server's share of a small machine is whatever it takes from the bot
//! (a server with more threads takes more, and its publishers then send
//! less); pinned, both servers get the same CPU, one core, and the same load.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

const SERVER_CORE: usize = 0;
const BOT_CORE: usize = 1;

/// The calling thread, and every thread it starts from now on, to the bot's core.
pub fn bot() -> io::Result<()> {
    if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        return Err(io::Error::other("--pin needs two cores"));
    }
    to_core(BOT_CORE)
}

/// The server `command` starts runs on the server's core, all its threads.
pub fn server(command: &mut Command) {
    // SAFETY: sched_setaffinity is async-signal-safe and touches only the
    // new process, between fork and exec.
    unsafe {
        command.pre_exec(|| to_core(SERVER_CORE));
    }
}

fn to_core(core: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it,
    // and sched_setaffinity reads exactly its size. Pid 0 is this thread.
    let done = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
