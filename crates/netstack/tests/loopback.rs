//! The netstack against an in-process WireGuard peer on loopback (no root, no namespaces): the
//! peer is the same tunnel core plus smoltcp over a [`PacketDevice`], serving a TCP echo on
//! 10.0.0.1:7. Covers forwards, SOCKS5 CONNECT, the HTTP proxy and the connection cap.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_netstack::{Netstack, NetstackOptions, PacketDevice, Target};
use gatehouse_profile::{Key, Secret};
use gatehouse_tunnel::{PeerConfig, TunOutcome, Tunnel, TunnelConfig, UdpOutcome};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

const ECHO_PORT: u16 = 7;
const LISTENERS: usize = 8;

/// A WireGuard peer with a TCP echo service on 10.0.0.1:7, on its own thread.
struct Peer {
    addr: SocketAddr,
    public: Key,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tcp_listener() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 256 * 1024]),
        tcp::SocketBuffer::new(vec![0; 256 * 1024]),
    );
    s.listen(ECHO_PORT).expect("listen");
    s
}

fn spawn_peer(client_public: Key) -> Peer {
    let secret = Secret::generate();
    let public = secret.public_key();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    udp.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    let addr = udp.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let config = TunnelConfig {
            private_key: *secret.expose(),
            peers: vec![PeerConfig {
                public_key: client_public.0,
                preshared_key: None,
                allowed_ips: vec!["10.0.0.2/32".parse().expect("net")],
                endpoint: None,
                persistent_keepalive: None,
            }],
        };
        let mut tunnel = Tunnel::new(config, Instant::now()).expect("tunnel");
        let mut dev = PacketDevice::new(1420, 512, 512);
        let epoch = Instant::now();
        let now = || smoltcp::time::Instant::from_micros(epoch.elapsed().as_micros() as i64);
        let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut dev, now());
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24))
                .expect("addr");
        });
        let mut sockets = SocketSet::new(Vec::new());
        let handles: Vec<_> = (0..LISTENERS)
            .map(|_| sockets.add(tcp_listener()))
            .collect();
        let mut rx = vec![0u8; 65536];
        let mut out = vec![0u8; 65536];
        let mut chunk = vec![0u8; 65536];
        let mut next_tick = Instant::now();
        while !stop2.load(Ordering::Relaxed) {
            while let Ok((n, from)) = udp.recv_from(&mut rx) {
                match tunnel.handle_udp_datagram(from, &rx[..n], &mut out, Instant::now()) {
                    UdpOutcome::TunPacket(p) => {
                        dev.push_rx(p);
                    }
                    UdpOutcome::Reply { dst, datagram } => {
                        let _ = udp.send_to(datagram, dst);
                    }
                    _ => {}
                }
                if dev.rx_is_full() {
                    break;
                }
            }
            for _ in 0..4 {
                iface.poll(now(), &mut dev, &mut sockets);
                for h in &handles {
                    let s = sockets.get_mut::<tcp::Socket>(*h);
                    while s.can_recv() && s.can_send() {
                        let room = s.send_capacity() - s.send_queue();
                        let n = s.recv_slice(&mut chunk[..room.min(65536)]).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        let _ = s.send_slice(&chunk[..n]);
                    }
                    if s.state() == tcp::State::CloseWait && s.send_queue() == 0 {
                        s.close();
                    }
                    if s.state() == tcp::State::Closed {
                        let _ = s.listen(ECHO_PORT);
                    }
                }
                while let Some(p) = dev.pop_tx() {
                    if let TunOutcome::Send { dst, datagram } =
                        tunnel.handle_tun_packet(&p, &mut out, Instant::now())
                    {
                        let _ = udp.send_to(datagram, dst);
                    }
                    dev.recycle_tx(p);
                }
            }
            if Instant::now() >= next_tick {
                tunnel.handle_timeout(Instant::now());
                next_tick = Instant::now() + Duration::from_millis(100);
            }
            while let Some((dst, n)) = tunnel.poll_transmit(&mut out) {
                let _ = udp.send_to(&out[..n], dst);
            }
        }
    });
    Peer {
        addr,
        public,
        stop,
        thread: Some(thread),
    }
}

/// A client profile for `peer`, and the peer.
fn setup() -> (gatehouse_profile::Config, Peer) {
    let secret = Secret::generate();
    let peer = spawn_peer(secret.public_key());
    let text = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = {}\nAllowedIPs = 10.0.0.0/24\nEndpoint = {}\n",
        secret.expose_base64(),
        peer.public,
        peer.addr
    );
    let config = gatehouse_profile::parse::parse(&text, "loopback.conf").expect("profile");
    (config, peer)
}

fn local() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0)
}

fn echo_target() -> Target {
    Target::Addr(SocketAddr::new(
        Ipv4Addr::new(10, 0, 0, 1).into(),
        ECHO_PORT,
    ))
}

/// Writes `data` and reads the same amount back, on a thread.
fn echo_roundtrip(mut s: TcpStream, data: Vec<u8>) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let len = data.len();
    let writer = std::thread::spawn(move || w.write_all(&data).expect("write"));
    let mut back = vec![0u8; len];
    s.read_exact(&mut back).expect("echo back");
    writer.join().expect("writer");
    back
}

fn socks_connect(s: &mut TcpStream, target: SocketAddr) -> u8 {
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(&[5, 1, 0]).expect("greeting");
    let mut g = [0u8; 2];
    s.read_exact(&mut g).expect("greeting reply");
    assert_eq!(g, [5, 0]);
    let SocketAddr::V4(v4) = target else {
        panic!("v4 only here")
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req).expect("request");
    let mut r = [0u8; 10];
    s.read_exact(&mut r).expect("reply");
    r[1]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn forward_and_socks_echo_intact() {
    let (config, _peer) = setup();
    let rt = runtime();
    let options = NetstackOptions {
        socks_addr: Some(local()),
        http_addr: None,
        ..NetstackOptions::default()
    };
    let ns = rt
        .block_on(Netstack::start(&config, options))
        .expect("start");
    let fwd = rt
        .block_on(ns.open_forward(echo_target()))
        .expect("forward");
    assert_eq!(rt.block_on(ns.open_forward(echo_target())).ok(), Some(fwd));

    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let back = echo_roundtrip(TcpStream::connect(fwd).expect("connect"), data.clone());
    assert!(back == data, "forward: echo differs");

    let mut s = TcpStream::connect(ns.socks_addr().expect("socks")).expect("connect");
    let code = socks_connect(
        &mut s,
        SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 7),
    );
    assert_eq!(code, 0);
    let small = b"hello through socks".to_vec();
    assert_eq!(echo_roundtrip(s, small.clone()), small);

    // Refused port and unroutable address: the SOCKS reply says which.
    let mut s = TcpStream::connect(ns.socks_addr().expect("socks")).expect("connect");
    assert_eq!(socks_connect(&mut s, "10.0.0.1:9".parse().expect("a")), 5);
    let mut s = TcpStream::connect(ns.socks_addr().expect("socks")).expect("connect");
    assert_eq!(socks_connect(&mut s, "192.0.2.1:80".parse().expect("a")), 3);

    let stats = ns.stats();
    assert!(stats.tcp_opened >= 2, "{stats:?}");
    assert!(stats.bytes_to_tunnel >= 4_000_000, "{stats:?}");
    rt.block_on(ns.shutdown());
}

#[test]
fn connection_cap_answers_clearly() {
    let (config, _peer) = setup();
    let rt = runtime();
    let options = NetstackOptions {
        socks_addr: Some(local()),
        http_addr: Some(local()),
        max_connections: 2,
        ..NetstackOptions::default()
    };
    let ns = rt
        .block_on(Netstack::start(&config, options))
        .expect("start");
    let socks = ns.socks_addr().expect("socks");
    let echo = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), ECHO_PORT);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(socks).expect("connect");
        assert_eq!(socks_connect(&mut s, echo), 0);
        held.push(s);
    }
    let mut s = TcpStream::connect(socks).expect("connect");
    assert_eq!(
        socks_connect(&mut s, echo),
        1,
        "general failure past the cap"
    );

    let mut h = TcpStream::connect(ns.http_addr().expect("http")).expect("connect");
    h.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reply = String::new();
    let _ = h.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("too many connections"), "{reply}");
    assert!(ns.stats().clients_refused >= 2);

    // Garbage on the SOCKS port, once there is room: closed, the held ones still echo.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut g = TcpStream::connect(socks).expect("connect");
    g.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    g.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
    let mut rest = Vec::new();
    let _ = g.read_to_end(&mut rest);
    assert!(rest.is_empty(), "garbage gets no reply: {rest:?}");
    let s = held.pop().expect("held");
    assert_eq!(echo_roundtrip(s, b"still here".to_vec()), b"still here");
    rt.block_on(ns.shutdown());
}

#[test]
fn slow_reader_slows_only_its_own_connection() {
    let (config, _peer) = setup();
    let rt = runtime();
    let options = NetstackOptions {
        socks_addr: None,
        http_addr: None,
        ..NetstackOptions::default()
    };
    let ns = rt
        .block_on(Netstack::start(&config, options))
        .expect("start");
    let fwd = rt
        .block_on(ns.open_forward(echo_target()))
        .expect("forward");
    // A client that writes 16 MB and never reads: its echo backs up through the tunnel.
    let stuck = TcpStream::connect(fwd).expect("connect");
    let mut w = stuck.try_clone().expect("clone");
    let pusher = std::thread::spawn(move || {
        let block = vec![0x5au8; 64 * 1024];
        let mut sent = 0usize;
        let _ = w.set_write_timeout(Some(Duration::from_secs(3)));
        while sent < 16 << 20 {
            match w.write(&block) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile another connection moves 2 MB both ways, intact and in time.
    let t = Instant::now();
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let back = echo_roundtrip(TcpStream::connect(fwd).expect("connect"), data.clone());
    assert!(back == data, "echo differs");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    let sent = pusher.join().expect("pusher");
    assert!(
        sent < 16 << 20,
        "the stuck connection was not held back ({sent} bytes)"
    );
    drop(stuck);
    rt.block_on(ns.shutdown());
}
