//! Reading a datagram with the time the kernel received it (SO_TIMESTAMPNS),
//! so the delay measured is the server's and the network's, not how late the
//! bot's task was scheduled on a busy machine.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Asks the kernel to stamp each datagram (CLOCK_REALTIME). Without it,
/// [`recv`] falls back to the time of the read.
pub fn enable_timestamps(socket: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, reading a c_int that lives
    // across the call; a failure leaves timestamps off.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Waits for a datagram; returns its length, source and arrival (the
/// kernel's stamp mapped onto `Instant`, else now).
pub async fn recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || recv_now(socket, buf)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// One non-blocking read (WouldBlock when there is none).
pub fn try_recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    socket.try_io(Interest::READABLE, || recv_now(socket, buf))
}

fn recv_now(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    // SAFETY: every pointer handed to recvmsg points into a local that lives
    // across the call, with its true length; the control messages are read
    // with the CMSG_* helpers inside the length the kernel wrote.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut control = [0u64; 8];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let source = if i32::from(addr.ss_family) == libc::AF_INET {
            let v4 = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            ))
        } else {
            return Err(io::Error::other("a datagram from a non-IPv4 address"));
        };
        let now = Instant::now();
        let mut arrival = now;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                let stamped = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                // How long ago it arrived, on the monotonic clock.
                arrival = now.checked_sub(wall.saturating_sub(stamped)).unwrap_or(now);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((n as usize, source, arrival))
    }
}
