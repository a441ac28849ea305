//! The data path allocates nothing: with a live session, encrypting a TUN packet and decrypting
//! the datagram (v4 and v6, both directions) performs zero heap allocations. A counting global
//! allocator (this test binary only) checks it.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gatehouse_tunnel::{TunOutcome, UdpOutcome};
use support::*;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only adds a thread-local counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn data_path_does_not_allocate() {
    // The counter does count.
    let x = allocations();
    std::hint::black_box(Vec::<u8>::with_capacity(8));
    assert!(allocations() > x);

    let (mut net, _, _) = pair(51);
    handshake(&mut net);
    net.send_ip(B, &ipv4("10.0.0.2", "10.0.0.1", b"confirm"));
    net.run();
    let (a_addr, b_addr) = (net.nodes[A].addr, net.nodes[B].addr);
    let packets = [
        (A, B, a_addr, ipv4("10.0.0.1", "10.0.0.2", &[1; 1380])),
        (B, A, b_addr, ipv4("10.0.0.2", "10.0.0.1", &[2; 64])),
        (A, B, a_addr, ipv6("fd00::1", "fd00::2", &[3; 1200])),
        (B, A, b_addr, ipv6("fd00::2", "fd00::1", &[4; 0])),
    ];
    let mut out = vec![0u8; BUF];
    let mut inner = vec![0u8; BUF];
    let mut delivered = 0;
    let before = allocations();
    for _ in 0..1000 {
        for (src, dst, from, p) in &packets {
            let t = now();
            let TunOutcome::Send { datagram, .. } =
                net.nodes[*src].tunnel.handle_tun_packet(p, &mut out, t)
            else {
                panic!("live session sends at once");
            };
            let n = datagram.len();
            let got = net.nodes[*dst]
                .tunnel
                .handle_udp_datagram(*from, &out[..n], &mut inner, t);
            if let UdpOutcome::TunPacket(q) = got {
                delivered += usize::from(q == &p[..]);
            }
            assert_eq!(net.nodes[*src].tunnel.poll_transmit(&mut out), None);
            assert_eq!(net.nodes[*dst].tunnel.poll_event(), None);
        }
    }
    let spent = allocations() - before;
    assert_eq!(delivered, 4000);
    assert_eq!(spent, 0, "{spent} allocations on the data path");
}
