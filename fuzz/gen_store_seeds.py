#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz_broker_store target.

Usage: gen_store_seeds.py [corpus directory]   (default:
fuzz/corpus/fuzz_broker_store next to this script)

Each seed is a program in the input language fuzz/fuzz_broker_store.c
describes: a settings byte, then operations with their parameter bytes. The
helpers below emit exactly the bytes each operation reads, so that every
seed reaches a crash and restore with the state its name says (queued and
in-flight QoS 1/2 deliveries, inbound QoS 2 identifiers, retained messages,
wills, held acknowledgements). Files whose name starts with "regress-" are
inputs that once found a bug; this script never writes or removes them.
Rerun it after changing the input language.
"""

import os
import sys

OPEN, CONNECT, SUBSCRIBE, PUBLISH, ACK, DISCONNECT, ANSWER, TAKE, DROP, CLOCK, SYNCED, \
    FAIL_NEXT, CRASH, AUTO, APP_PUBLISH, UNSUBSCRIBE = range(16)

HOLD, SMALL, EXPIRY_CAP, MAX_QOS_1 = (1 << i for i in range(4))

T_A, T_AB, T_B, T_CD, T_XY, T_AC, T_BB, T_Q = range(8)
F_A, F_AHASH, F_PLUSB, F_HASH, F_SHARE_A, F_SHARE_HASH, F_AB, F_BPLUS = range(8)
ID_A, ID_B, ID_C, ID_D = range(4)
EXPIRY = {0: 0, 2: 1, 300: 2, 0xFFFFFFFF: 3}
DELAY = {None: 0, 1: 1, 5: 2, 100: 3}
STEP = {0: 0, 100: 1, 1000: 2, 1500: 3, 5000: 4, 60000: 5, 400000: 6, 1 << 31: 7}


def op(code, conn=0):
    return bytes([(conn << 4) | code])


def connect(conn=0, cid=ID_A, clean=True, expiry=0, will=None, recv_max_1=False,
            keep_alive=False):
    """will: None or (topic, qos, retain, delay)."""
    f1 = cid | (4 if clean else 0) | (EXPIRY[expiry] << 4) | (0x40 if recv_max_1 else 0) \
        | (0x80 if keep_alive else 0)
    f2 = 0
    if will is not None:
        topic, qos, retain, delay = will
        f1 |= 8
        f2 = topic | (qos << 3) | (0x20 if retain else 0) | (DELAY[delay] << 6)
    return op(OPEN, conn) + op(CONNECT, conn) + bytes([f1, f2]) + op(ANSWER, conn)


def subscribe(conn=0, filt=F_A, qos=1, sub_id=None, rh=0, packet_id=1, no_local=False,
              rap=False):
    f1 = filt | (qos << 3) | (0x20 if no_local else 0) | (0x40 if rap else 0) \
        | (0x80 if sub_id is not None else 0)
    f2 = rh | (((sub_id or 1) - 1) << 2) | ((packet_id - 1) << 5)
    return op(SUBSCRIBE, conn) + bytes([f1, f2]) + op(ANSWER, conn)


def publish(conn=0, topic=T_A, qos=0, retain=False, expiry=None, packet_id=1, payload=2):
    """expiry: None, 1 or 100 seconds; payload: index into (0, 1, 5, 20) bytes."""
    f1 = topic | (qos << 3) | (0x20 if retain else 0)
    if expiry is not None:
        f1 |= 0x40 | (0x80 if expiry == 100 else 0)
    return op(PUBLISH, conn) + bytes([f1, (packet_id - 1) | (payload << 3)])


def app_publish(topic=T_A, qos=1, retain=False, expiry=None, payload=2):
    f1 = topic | (qos << 3) | (0x20 if retain else 0)
    if expiry is not None:
        f1 |= 0x40 | (0x80 if expiry == 100 else 0)
    return op(APP_PUBLISH) + bytes([f1, payload])


def answer_seen(conn=0, index=0):
    return op(ACK, conn) + bytes([index << 2])


def pubrel(conn=0, packet_id=1):
    return op(ACK, conn) + bytes([2 | ((packet_id - 1) << 2)])


def disconnect(conn=0, with_will=False, expiry_0=False):
    return op(DISCONNECT, conn) + bytes([(1 if with_will else 0) | (2 if expiry_0 else 0)])


def take(conn=0, n=None):
    return op(TAKE, conn) + bytes([0x80 if n is None else n - 1])


def clock(ms):
    return op(CLOCK) + bytes([STEP[ms]])


def synced(back=0, above=False):
    return op(SYNCED) + bytes([back | (4 if above else 0)])


def crash():
    return op(CRASH)


def auto():
    return op(AUTO)


SEEDS = {
    # A durable subscriber offline, a QoS 1 and a QoS 2 message queued for it.
    'queued-qos12': bytes([HOLD]) + connect(0, ID_A, True, 300) + subscribe(0, F_A, 2)
    + auto() + op(DROP, 0) + connect(1, ID_B) + publish(1, T_A, 1) + publish(1, T_A, 2, packet_id=2)
    + auto() + crash() + connect(0, ID_A, False, 300) + auto(),
    # QoS 1 and 2 in flight (sent, not acknowledged) and a QoS 2 released.
    'inflight': bytes([0]) + connect(0, ID_A, True, 300) + subscribe(0, F_AHASH, 2)
    + connect(1, ID_B) + publish(1, T_A, 1) + publish(1, T_AB, 2, packet_id=2)
    + publish(1, T_A, 2, packet_id=3) + take(1) + take(0) + answer_seen(0, 2) + take(0)
    + crash() + connect(0, ID_A, False, 300) + take(0) + auto(),
    # An inbound QoS 2 from a durable session awaiting PUBREL across a crash.
    'inbound-qos2': bytes([HOLD]) + connect(0, ID_A, True, 300) + publish(0, T_B, 2, packet_id=3)
    + take(0) + synced() + take(0) + crash() + connect(0, ID_A, False, 300)
    + publish(0, T_B, 2, packet_id=3) + auto() + pubrel(0, 3) + auto(),
    # Retained messages (one expiring) restored and sent to a new subscriber.
    'retained': bytes([0]) + connect(0, ID_A) + publish(0, T_A, 0, True)
    + publish(0, T_AB, 1, True, expiry=1) + app_publish(T_CD, 2, True) + auto() + crash()
    + clock(1500) + connect(1, ID_B) + subscribe(1, F_HASH, 1) + auto() + crash(),
    # Wills: one delayed, one of a session that expires while the broker is down.
    'wills': bytes([HOLD]) + connect(0, ID_A, True, 300, will=(T_A, 1, True, 5))
    + connect(1, ID_B, True, 2, will=(T_B, 2, False, 100)) + connect(2, ID_C, True, 300)
    + subscribe(2, F_HASH, 2) + auto() + crash() + clock(1000) + connect(2, ID_C, False, 300)
    + auto() + clock(5000) + auto() + crash() + connect(2, ID_C, False, 300) + auto(),
    # Held acknowledgements: PUBACK and SUBACK only after store_synced.
    'hold-acks': bytes([HOLD]) + connect(0, ID_A, True, 0xFFFFFFFF) + take(0) + synced()
    + take(0) + subscribe(0, F_A, 1, sub_id=3) + take(0) + publish(0, T_A, 1) + take(0)
    + synced(1) + take(0) + synced(0, True) + take(0) + auto() + crash()
    + connect(0, ID_A, False, 0xFFFFFFFF) + auto(),
    # Shared subscriptions and a Receive Maximum of 1 keep deliveries queued.
    'shared-queue': bytes([SMALL]) + connect(0, ID_A, True, 300, recv_max_1=True)
    + subscribe(0, F_SHARE_HASH, 2) + connect(1, ID_B, True, 300, recv_max_1=True)
    + subscribe(1, F_SHARE_A, 1) + connect(2, ID_C) + publish(2, T_A, 1) + publish(2, T_A, 2, packet_id=2)
    + publish(2, T_XY, 2, packet_id=3) + take(0) + take(1) + crash()
    + connect(0, ID_A, False, 300) + connect(1, ID_B, False, 300) + auto(),
    # Allocation failures around records and the restore.
    'alloc-fail': bytes([HOLD]) + connect(0, ID_A, True, 300, will=(T_Q, 1, True, 1))
    + op(FAIL_NEXT) + subscribe(0, F_A, 2) + op(FAIL_NEXT) + publish(0, T_A, 1, True)
    + auto() + op(FAIL_NEXT) + crash() + op(FAIL_NEXT) + connect(0, ID_A, False, 300)
    + auto() + op(FAIL_NEXT) + crash(),
    # Session ends: DISCONNECT with expiry 0, session expiry with the clock.
    'expiry': bytes([EXPIRY_CAP]) + connect(0, ID_A, True, 0xFFFFFFFF) + subscribe(0, F_BPLUS, 1)
    + connect(1, ID_B, True, 2) + subscribe(1, F_PLUSB, 2) + disconnect(1, True) + op(DROP, 1)
    + connect(2, ID_C) + publish(2, T_B, 1, expiry=1) + auto() + clock(1500) + crash()
    + clock(5000) + auto() + disconnect(0, expiry_0=True) + op(DROP, 0) + crash(),
    # Unsubscribe, take over, repeated crashes.
    'takeover': bytes([HOLD | MAX_QOS_1]) + connect(0, ID_D, True, 300) + subscribe(0, F_PLUSB, 1)
    + connect(1, ID_D, False, 300) + auto() + op(UNSUBSCRIBE, 1) + bytes([F_PLUSB]) + auto()
    + crash() + crash() + connect(0, ID_D, False, 300) + auto(),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus', 'fuzz_broker_store')
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name + '.bin'), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
