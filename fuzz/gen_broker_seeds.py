#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz_broker_client and fuzz_broker targets.

Usage: gen_broker_seeds.py [fuzz/corpus directory]   (default: fuzz/corpus next
to this script)

Each seed is a program in the input language fuzz/broker_fuzz.c describes: a
settings byte, then operations with their parameter bytes. The helpers below
emit exactly the bytes each operation reads, in the order it reads them, so
that every seed reaches the state its name says (connected, a QoS 2 flow, a
shared subscription, a resumed session, ...) instead of failing at the first
packet. Files whose name starts with "regress-" are inputs that once found a
bug; this script never writes or removes them. Rerun it after changing the
input language.
"""

import os
import sys

# Operation codes (the low nibble of the operation byte).
FEED_RAW, FEED_PACKET, DRAIN, ACK_CONNECT, ACK_SUBSCRIBE, AUTHORIZE, AUTH, DISCONNECT, \
    TAKE_OUT, CLOCK, FAIL_NEXT, APP_PUBLISH, DROP_OR_COPY, OPEN_OR_ACCESSORS, AUTO, \
    WRITABLE = range(16)

# Settings bits.
AUTHORIZE_PUBLISH, SMALL_LIMITS, KEEP_ALIVE_CAP, NO_FEATURES, MAX_QOS_1, NO_RETAIN, \
    NO_ALIASES, RECEIVE_MAX_1 = (1 << i for i in range(8))

# Indices into the tables of broker_fuzz.c.
T_A, T_AB, T_B, T_CD, T_SYS, T_DEEP, T_XY, T_BC = range(8)
F_A, F_AHASH, F_PLUSB, F_HASH, F_SHARE_A, F_SHARE_HASH, F_AB, F_SYS = range(8)
ID_EMPTY, ID_A, ID_B, ID_C = range(4)

ALL = 0x80  # chunk byte: feed at once; values below feed (v & 15) + 1 bytes at a time
EXPIRY = {0: 0, 5: 1, 60: 2, 0xFFFFFFFF: 3}
KEEP_ALIVE = {0: 0, 1: 1, 2: 2, 60: 3}
STEPS = [0, 1, 100, 500, 999, 1000, 1500, 2000, 3000, 4500, 10000, 30000, 60000, 100000,
         600000, 1 << 30]


def op(code, conn=0):
    return bytes([(conn << 4) | code])


def connect(conn=0, cid=ID_A, clean=True, expiry=0, keep_alive=60, will=None,
            username=False, password=False, auth=False, receive_maximum=0,
            max_packet=False, user_prop=False, alias_max=False, chunk=ALL, version=5):
    """will: None or (topic index, qos, retain, delay: None, 1 or 3); version
    5, 4 (MQTT 3.1.1) or 3 (MQTT 3.1), told by the selector byte 0, 12 or 24."""
    f1 = cid | (0x04 if clean else 0) | (EXPIRY[expiry] << 4) | (KEEP_ALIVE[keep_alive] << 6)
    f2 = 0
    if will is not None:
        topic, qos, retain, delay = will
        f1 |= 0x08
        f2 = qos | (0x04 if retain else 0) | (topic << 4)
        if delay is not None:
            f2 |= 0x08 | (0x80 if delay == 3 else 0)
    f3 = (1 if username else 0) | (2 if password else 0) | (4 if auth else 0) \
        | (receive_maximum << 3) | (0x20 if max_packet else 0) | (0x40 if user_prop else 0) \
        | (0x80 if alias_max else 0)
    return op(FEED_PACKET, conn) + bytes([{5: 0, 4: 12, 3: 24}[version], f1, f2, f3, chunk])


def publish(conn=0, topic=T_A, qos=0, retain=False, dup=False, packet_id=1, alias=0,
            alias_only=False, expiry=False, payload=1, props=False, deep=False, chunk=ALL):
    """payload: index into (0, 1, 5, 40) bytes."""
    f1 = topic | (qos << 3) | (0x20 if retain else 0) | (0x40 if dup else 0) \
        | (0x80 if props else 0)
    f2 = (packet_id - 1) | (alias << 2) | (0x10 if alias_only else 0) \
        | (0x20 if expiry else 0) | (payload << 6)
    return op(FEED_PACKET, conn) + bytes([11 if deep else 1, f1, f2, chunk])


def ack(kind, conn=0, packet_id=1, recent=None, rc=0, chunk=ALL):
    """kind: 'puback', 'pubrec', 'pubrel', 'pubcomp'; recent: index of a
    packet identifier the broker used lately (instead of packet_id); rc:
    index into (0x00, 0x10, 0x80, 0x92)."""
    sel = {'puback': 2, 'pubrec': 3, 'pubrel': 4, 'pubcomp': 5}[kind]
    f = (0x08 | recent) if recent is not None else (packet_id - 1)
    return op(FEED_PACKET, conn) + bytes([sel, f | (rc << 4), chunk])


def subscribe(filters, conn=0, packet_id=1, subid=None, chunk=ALL):
    """filters: list of (filter index, qos[, no_local, rap, retain_handling])."""
    assert 1 <= len(filters) <= 3
    f1 = (packet_id - 1) | ((len(filters) - 1) << 2)
    if subid is not None:
        f1 |= 0x10 | ((subid - 1) << 5)
    out = bytes([6, f1])
    for f in filters:
        idx, qos = f[0], f[1]
        nl, rap, rh = (list(f[2:]) + [False, False, None])[:3]
        fb = idx | (qos << 3) | (0x20 if nl else 0) | (0x40 if rap else 0)
        if rh is not None:
            out += bytes([fb | 0x80, rh])
        else:
            out += bytes([fb])
    return op(FEED_PACKET, conn) + out + bytes([chunk])


def unsubscribe(filters, conn=0, packet_id=1, chunk=ALL):
    f1 = (packet_id - 1) | ((len(filters) - 1) << 2)
    return op(FEED_PACKET, conn) + bytes([7, f1] + filters + [chunk])


def pingreq(conn=0, chunk=ALL):
    return op(FEED_PACKET, conn) + bytes([8, chunk])


def client_disconnect(conn=0, rc=0, expiry=None, chunk=ALL):
    """rc: index into (0x00, 0x04, 0x80, 0x81); expiry: None, 0, 30 or max."""
    e = {None: 0, 0: 1, 30: 2, 0xFFFFFFFF: 3}[expiry]
    return op(FEED_PACKET, conn) + bytes([9, rc | (e << 2), chunk])


def client_auth(conn=0, rc=0, wrong_method=False, data=True, chunk=ALL):
    """rc: index into (0x18, 0x19, 0x00)."""
    f = rc | (4 if wrong_method else 0) | (8 if data else 0)
    return op(FEED_PACKET, conn) + bytes([10, f, chunk])


def raw(data, conn=0, chunk=ALL):
    assert len(data) <= 255
    return op(FEED_RAW, conn) + bytes([len(data), chunk]) + bytes(data)


def drain(conn=0):
    return op(DRAIN, conn)


def ack_connect(conn=0, rc=0, username=False, reason=False, response=False):
    """rc: index into (0x00, 0x00, 0x00, 0x80, 0x86, 0x87, 0x9C, 0x01)."""
    f = rc | ((1 if username else 0) | (2 if reason else 0) | (4 if response else 0)) << 3
    return op(ACK_CONNECT, conn) + bytes([f])


def ack_subscribe(codes, conn=0, index=0, bogus=False, wrong_count=False):
    """codes: per filter, None (grant what was asked) or an index into
    (0x00, 0x01, 0x02, 0x80, 0x87, 0x8F, 0x97, 0x03)."""
    f = index | (0x40 if wrong_count else 0) | (0x80 if bogus else 0)
    return op(ACK_SUBSCRIBE, conn) + bytes([f] + [0 if c is None else 0x80 | c for c in codes])


def authorize(conn=0, index=0, rc=0, bogus=False):
    """rc: index into (0x00, 0x00, 0x00, 0x87, 0x80, 0x97, 0x10, 0x99)."""
    return op(AUTHORIZE, conn) + bytes([index | (rc << 3) | (0x80 if bogus else 0)])


def server_auth(conn=0, rc=0, data=True, reason=False, method=False):
    """rc: index into (0x18, 0x00, 0x19)."""
    f = rc | (4 if data else 0) | (8 if reason else 0) | (16 if method else 0)
    return op(AUTH, conn) + bytes([f])


def server_disconnect(conn=0, rc=1, reason=False, expiry=False):
    """rc: index into (0x00, 0x8B, 0x98, 0x01)."""
    return op(DISCONNECT, conn) + bytes([rc | (4 if reason else 0) | (8 if expiry else 0)])


def take(conn=0, n=None):
    return op(TAKE_OUT, conn) + bytes([ALL if n is None else n - 1])


def clock(ms):
    return op(CLOCK) + bytes([STEPS.index(ms)])


def fail_next():
    return op(FAIL_NEXT)


def app_publish(topic=T_A, qos=0, retain=False, expiry=False, payload=4):
    return op(APP_PUBLISH) + bytes([topic | (qos << 3) | (0x20 if retain else 0),
                                   (1 if expiry else 0) | (payload << 3)])


def drop(conn):
    return op(DROP_OR_COPY, conn)


def copy_out(cap):
    return op(DROP_OR_COPY) + bytes([cap - 1])


def reopen(conn):
    return op(OPEN_OR_ACCESSORS, conn)


def accessors():
    return op(OPEN_OR_ACCESSORS)


def auto():
    return op(AUTO)


def writable():
    return op(WRITABLE)


def session(conn=0, cid=ID_A, **kw):
    """Connected: CONNECT, its event, the CONNACK."""
    return connect(conn, cid, **kw) + drain(conn) + ack_connect(conn) + take(conn)


def client_seeds():
    s = {}
    s['connect-accept'] = session() + accessors()
    s['connect-refuse'] = connect() + drain() + ack_connect(rc=5, reason=True) + take()
    s['connect-bad-code'] = connect() + drain() + ack_connect(rc=7) + take()
    s['connect-full'] = connect(cid=ID_B, clean=False, expiry=60, keep_alive=2,
                                will=(T_AB, 1, True, 3), username=True, password=True,
                                receive_maximum=2, user_prop=True, alias_max=True) \
        + drain() + ack_connect(username=True, reason=True, response=True) + take()
    s['connect-assigned-id'] = session(cid=ID_EMPTY) + accessors()
    s['connect-chunked'] = connect(chunk=0) + drain() + ack_connect() + take(n=3) + take(n=5) \
        + copy_out(4) + take()
    s['connect-timeout'] = clock(999) + clock(1000) + take()
    s['not-connect-first'] = pingreq() + take()
    s['second-connect'] = session() + connect() + take()
    s['auth-exchange'] = connect(auth=True) + drain() + server_auth(data=True) + take() \
        + client_auth(rc=0) + drain() + ack_connect() + take()
    s['auth-wrong-method'] = connect(auth=True) + drain() + client_auth(wrong_method=True) \
        + take()
    s['reauth'] = session(auth=True) + client_auth(rc=1) + drain() + server_auth(rc=0) + take()
    s['held-until-connack'] = connect() + publish(qos=1) + pingreq() + drain() + ack_connect() \
        + drain() + take()
    s['publish-qos012'] = session() + publish(qos=0) + publish(qos=1) + publish(qos=2) \
        + drain() + take() + ack('pubrel') + take()
    s['publish-qos2-repeat'] = session() + publish(qos=2, packet_id=2) \
        + publish(qos=2, packet_id=2, dup=True) + take() + ack('pubrel', packet_id=2) \
        + ack('pubrel', packet_id=2) + take()
    s['aliases'] = session() + publish(topic=T_AB, alias=1) \
        + publish(alias=1, alias_only=True, qos=1) + publish(alias=2, alias_only=True) \
        + publish(alias=3) + drain() + take()
    s['subscribe-retained'] = session() + publish(topic=T_AB, qos=1, retain=True) \
        + subscribe([(F_AHASH, 2), (F_SHARE_A, 1), (F_SYS, 0, False, False, 2)], subid=3) \
        + drain() + ack_subscribe([None, None, 4]) + take() + ack('puback', recent=0) + take()
    s['subscribe-bad-answers'] = session() + subscribe([(F_HASH, 1)]) + drain() \
        + ack_subscribe([None, None], wrong_count=True) + ack_subscribe([7]) + ack_subscribe(
            [None], bogus=True) + ack_subscribe([None]) + take()
    s['unsubscribe'] = session() + subscribe([(F_AB, 1)]) + auto() \
        + unsubscribe([F_AB, F_HASH]) + drain() + take()
    s['own-messages'] = session() + subscribe([(F_AHASH, 2, False, True)]) + auto() \
        + publish(topic=T_AB, qos=2, retain=True) + auto() + publish(topic=T_AB, qos=1) \
        + auto() + take()
    s['no-local'] = session() + subscribe([(F_AHASH, 1, True)]) + auto() \
        + publish(topic=T_AB, qos=1) + auto()
    s['app-publish-expiry'] = session() + subscribe([(F_HASH, 1)]) + auto() \
        + app_publish(topic=T_CD, qos=1, expiry=True) + clock(1500) + take() + auto()
    s['keep-alive-timeout'] = session(keep_alive=1) + clock(1000) + pingreq() + take() \
        + clock(1500) + take()
    s['client-disconnect-will'] = session(will=(T_A, 1, False, None), expiry=60) \
        + client_disconnect(rc=1) + drain() + take()
    s['server-disconnect'] = session() + server_disconnect(rc=1, reason=True) + take() \
        + pingreq()
    s['server-disconnect-bad'] = session() + server_disconnect(expiry=True) \
        + server_disconnect(rc=3)
    s['protocol-error-sticky'] = session() + raw([0x20, 0x00]) + raw([0xc0, 0x00]) + take()
    s['malformed'] = raw([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]) + take()
    s['malformed-connect'] = raw([0x10, 0x05, 0x00, 0x04, 0x4d, 0x51, 0x54]) + take()
    s['subscription-id-from-client'] = session() + raw(
        [0x30, 0x07, 0x00, 0x01, 0x61, 0x02, 0x0b, 0x01, 0x78]) + take()
    s['alloc-fail-connect'] = connect() + fail_next() + drain() + ack_connect() + take()
    s['alloc-fail-publish'] = session() + subscribe([(F_HASH, 2)]) + auto() + fail_next() \
        + publish(qos=2) + fail_next() + take() + auto()
    s['alloc-fail-subscribe'] = session() + publish(qos=1, retain=True) + subscribe(
        [(F_A, 1), (F_HASH, 1)]) + drain() + fail_next() + ack_subscribe([None, None]) + take()
    # MQTT 3.1.1 and 3.1: the CONNECT's version rules the connection.
    s['v311-connect-accept'] = session(version=4, keep_alive=2) + accessors() + pingreq() + take()
    s['v31-publish-qos012'] = session(cid=ID_B, version=3) + publish(qos=0) + publish(qos=1) \
        + publish(qos=2, packet_id=2, props=True) + drain() + take() + ack('pubrel', packet_id=2) \
        + take()
    s['v311-connect-refuse'] = connect(version=4) + drain() + ack_connect(rc=5, reason=True) \
        + take()
    s['v31-connect-refuse-codes'] = connect(version=3, cid=ID_C) + drain() + ack_connect(rc=6) \
        + take()
    s['v311-empty-id-clean-0'] = connect(version=4, cid=ID_EMPTY, clean=False) + drain() \
        + ack_connect() + take()
    s['v31-empty-id'] = connect(version=3, cid=ID_EMPTY) + drain() + ack_connect() + take()
    s['v311-subscribe-retained'] = session(version=4) + publish(topic=T_AB, qos=1, retain=True) \
        + subscribe([(F_AHASH, 2), (F_SHARE_A, 1), (F_SYS, 0)]) + drain() \
        + ack_subscribe([None, None, 3]) + take() + ack('puback', recent=0) + take() \
        + unsubscribe([F_AHASH, F_HASH], packet_id=2) + drain() + take()
    s['v311-v5-only'] = session(version=4, auth=True, user_prop=True) \
        + subscribe([(F_AB, 1, True, True, 1)]) + client_auth() + raw([0xf0, 0x00]) + drain() \
        + server_auth() + server_disconnect(rc=1, reason=True) + take()
    s['v31-will-keep-alive'] = session(version=3, keep_alive=1, will=(T_A, 1, True, 1)) \
        + clock(1000) + pingreq() + take() + clock(1500) + take()
    s['v311-disconnect-will'] = session(version=4, will=(T_AB, 2, False, None)) \
        + client_disconnect(rc=1, expiry=30) + drain() + take()
    out = {name: bytes([0]) + body for name, body in s.items()}
    out['receive-maximum'] = bytes([RECEIVE_MAX_1]) + session() + publish(qos=1) \
        + publish(qos=2, packet_id=2) + take()
    out['authorize-publish'] = bytes([AUTHORIZE_PUBLISH]) + session() \
        + subscribe([(F_HASH, 2)]) + auto() + publish(qos=1) + publish(qos=2, packet_id=2) \
        + publish(topic=T_B) + drain() + authorize(index=0) + authorize(index=0, rc=3) \
        + authorize(bogus=True) + authorize(index=0, rc=6) + authorize(index=0) + take() \
        + auto()
    out['small-limits'] = bytes([SMALL_LIMITS | KEEP_ALIVE_CAP]) + session(keep_alive=60) \
        + subscribe([(F_A, 1), (F_AB, 1), (F_HASH, 1)]) + auto() \
        + publish(deep=True, qos=1) + publish(payload=3, qos=1) + take()
    out['features-off'] = bytes([NO_FEATURES | MAX_QOS_1 | NO_RETAIN | NO_ALIASES]) \
        + session() + subscribe([(F_HASH, 2), (F_SHARE_A, 1)], subid=1) + publish(qos=2) \
        + publish(retain=True) + publish(alias=1) + take()
    return out


def broker_seeds():
    s = {}
    sub0 = session(0, ID_A, expiry=60)
    sub1 = reopen(1) + session(1, ID_B)
    pub2 = reopen(2) + session(2, ID_C)
    s['fanout-qos012'] = sub0 + sub1 + pub2 \
        + subscribe([(F_AHASH, 2)], 0) + subscribe([(F_PLUSB, 1)], 1, subid=2) + auto() \
        + publish(2, T_AB, qos=0) + publish(2, T_AB, qos=1) + publish(2, T_AB, qos=2) + auto() \
        + auto()
    s['shared-group'] = sub0 + sub1 + pub2 \
        + subscribe([(F_SHARE_A, 1)], 0) + subscribe([(F_SHARE_A, 2)], 1) + auto() \
        + publish(2, T_A, qos=1) + publish(2, T_A, qos=1, packet_id=2) \
        + publish(2, T_A, qos=2, packet_id=3) + auto() + drop(0) + auto()
    s['shared-member-leaves'] = sub0 + sub1 + pub2 \
        + subscribe([(F_SHARE_HASH, 1)], 0) + subscribe([(F_SHARE_HASH, 1)], 1) + auto() \
        + publish(2, T_A, qos=1) + publish(2, T_AB, qos=1, packet_id=2) + drain(2) + take(2) \
        + drop(0) + clock(100000) + auto()
    s['retained'] = pub2 + publish(2, T_AB, qos=1, retain=True) \
        + publish(2, T_A, qos=2, retain=True, packet_id=2) + auto() + sub0 \
        + subscribe([(F_AHASH, 2, False, True, 0), (F_HASH, 1, False, False, 1)], 0) + auto() \
        + publish(2, T_AB, retain=True, payload=0) + auto() + subscribe([(F_AHASH, 1)], 0) \
        + auto()
    s['retained-expiry'] = pub2 + publish(2, T_CD, qos=1, retain=True, expiry=True) + auto() \
        + clock(1500) + sub0 + subscribe([(F_HASH, 1)], 0) + auto()
    s['session-resume'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() + pub2 \
        + publish(2, T_A, qos=1) + drain(0) + drop(0) + publish(2, T_B, qos=2, packet_id=2) \
        + publish(2, T_XY, qos=1, packet_id=3) + auto() + reopen(0) \
        + session(0, ID_A, clean=False, expiry=60) + auto() + auto()
    s['session-resume-qos2-pubrel'] = sub0 + subscribe([(F_HASH, 2)], 0) + auto() + pub2 \
        + publish(2, T_A, qos=2) + drain(2) + take(2) + take(0) + ack('pubrec', 0, recent=0) \
        + drop(0) + reopen(0) + session(0, ID_A, clean=False, expiry=60) + auto()
    s['takeover'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() \
        + reopen(1) + session(1, ID_A, clean=False, expiry=60) + auto() + take(0) + drop(0) \
        + auto()
    s['takeover-clean'] = session(0, ID_A, expiry=60, will=(T_A, 1, False, 3)) \
        + reopen(1) + session(1, ID_A, clean=True) + auto()
    s['takeover-after-error'] = sub0 + raw([0x20, 0x00], 0) + reopen(1) \
        + session(1, ID_A, clean=False, expiry=60) + take(0) + auto()
    s['will-delay'] = sub1 + subscribe([(F_HASH, 1)], 1) + auto() \
        + session(0, ID_A, expiry=60, will=(T_B, 1, False, 1)) + drop(0) + clock(999) \
        + clock(100) + auto()
    s['will-delay-cancelled'] = sub1 + subscribe([(F_HASH, 1)], 1) + auto() \
        + session(0, ID_A, expiry=60, will=(T_B, 1, True, 3)) + drop(0) + clock(1000) \
        + reopen(0) + session(0, ID_A, clean=False, expiry=60) + clock(3000) + auto()
    s['will-session-ends-first'] = sub1 + subscribe([(F_HASH, 2)], 1) + auto() \
        + session(0, ID_A, expiry=5, will=(T_B, 2, True, 3)) + drop(0) + clock(2000) \
        + clock(3000) + auto()
    s['will-on-disconnect-04'] = sub1 + subscribe([(F_HASH, 1)], 1) + auto() \
        + session(0, ID_A, will=(T_CD, 1, False, None)) + client_disconnect(0, rc=1) + drop(0) \
        + auto()
    s['will-keep-alive'] = sub1 + subscribe([(F_HASH, 1)], 1) + auto() \
        + session(0, ID_A, keep_alive=1, will=(T_CD, 0, False, None)) + clock(1500) + take(0) \
        + drop(0) + auto()
    s['session-expiry'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() + drop(0) + pub2 \
        + publish(2, T_A, qos=1) + auto() + clock(60000) + clock(1000) + reopen(0) \
        + session(0, ID_A, clean=False) + auto()
    s['aliases-routed'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() + pub2 \
        + publish(2, T_AB, alias=1, qos=1) + publish(2, alias=1, alias_only=True, qos=2,
                                                     packet_id=2) + auto()
    settings = {}
    settings['authorize-route'] = AUTHORIZE_PUBLISH
    s['authorize-route'] = sub0 + subscribe([(F_HASH, 2)], 0) \
        + auto() + pub2 + publish(2, T_A, qos=2) + drain(2) + authorize(2, rc=3) \
        + publish(2, T_B, qos=1, retain=True, packet_id=2) + drain(2) + fail_next() \
        + authorize(2) + auto()
    s['app-publish'] = sub0 + sub1 + subscribe([(F_HASH, 2)], 0) \
        + subscribe([(F_SHARE_HASH, 1)], 1) + auto() + app_publish(T_XY, 2, retain=True) \
        + app_publish(T_SYS, 1) + auto()
    settings['many-sessions-limit'] = SMALL_LIMITS
    s['many-sessions-limit'] = sub0 + sub1 + pub2 + auto()
    settings['queue-limit'] = SMALL_LIMITS
    s['queue-limit'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() \
        + drop(0) + pub2 + publish(2, qos=1) + publish(2, qos=1, packet_id=2) \
        + publish(2, qos=1, packet_id=3) + publish(2, qos=1, packet_id=4) + auto() \
        + reopen(0) + session(0, ID_A, clean=False, expiry=60) + auto()
    s['receive-maximum-out'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() + pub2 \
        + publish(2, qos=1) + publish(2, qos=1, packet_id=2) + publish(2, qos=1, packet_id=3) \
        + drain(2) + take(2) + take(0) + auto()
    s['receive-maximum-peer'] = session(0, ID_A, receive_maximum=1) \
        + subscribe([(F_HASH, 2)], 0) + auto() + pub2 + publish(2, qos=2) \
        + publish(2, qos=1, packet_id=2) + drain(2) + take(2) + take(0) + auto()
    s['max-packet-peer'] = session(0, ID_A, max_packet=True) + subscribe([(F_HASH, 1)], 0) \
        + auto() + pub2 + publish(2, qos=1, payload=3, props=True) + publish(2, payload=1) \
        + auto()
    s['protocol-errors'] = sub0 + raw([0x62, 0x02, 0x00, 0x07], 0) + sub1 \
        + ack('puback', 1, packet_id=5) + pub2 + publish(2, qos=2, packet_id=1) \
        + publish(2, qos=1, packet_id=1) + auto()
    s['drop-reopen-all'] = sub0 + sub1 + drop(0) + drop(1) + reopen(0) + reopen(3) \
        + session(3, ID_B) + drop(3) + writable()
    s['alloc-fail-fanout'] = sub0 + sub1 + pub2 + subscribe([(F_HASH, 1)], 0) \
        + subscribe([(F_AHASH, 2)], 1) + auto() + fail_next() + publish(2, T_AB, qos=1) \
        + fail_next() + auto() + fail_next() + drop(0) + auto()
    s['alloc-fail-will'] = sub1 + subscribe([(F_HASH, 1)], 1) + auto() \
        + session(0, ID_A, expiry=60, will=(T_B, 1, True, 1)) + drop(0) + fail_next() \
        + clock(1000) + clock(0) + auto()
    s['alloc-fail-takeover'] = sub0 + reopen(1) + connect(1, ID_A, clean=False, expiry=60) \
        + drain(1) + fail_next() + ack_connect(1) + take(1) + take(0) + auto()
    # MQTT 3.1.1 and 3.1 next to MQTT 5.
    v4 = reopen(1) + session(1, ID_B, version=4)
    v3 = reopen(2) + session(2, ID_C, version=3)
    s['v311-mixed-fanout'] = sub0 + v4 + v3 \
        + subscribe([(F_AHASH, 2)], 0) + subscribe([(F_PLUSB, 1)], 1) + subscribe([(F_HASH, 2)], 2) \
        + auto() + publish(0, T_AB, qos=2, props=True) + publish(1, T_AB, qos=1) \
        + publish(2, T_AB, qos=0, retain=True) + auto() + auto()
    s['v311-session-resume'] = reopen(1) + session(1, ID_B, clean=False, version=4) \
        + subscribe([(F_HASH, 1)], 1) + auto() + drop(1) + pub2 + publish(2, T_A, qos=1) \
        + publish(2, T_B, qos=2, packet_id=2) + auto() + reopen(1) \
        + session(1, ID_B, clean=False, version=4) + auto()
    s['v31-takeover-by-v5'] = reopen(1) + session(1, ID_A, clean=False, version=3) \
        + subscribe([(F_A, 1)], 1) + auto() + reopen(0) + session(0, ID_A, clean=False, expiry=60) \
        + auto() + publish(0, T_A, qos=1) + auto()
    s['v311-will-to-v5'] = sub0 + subscribe([(F_HASH, 1)], 0) + auto() \
        + reopen(1) + session(1, ID_B, version=4, will=(T_B, 1, True, None)) + drop(1) \
        + clock(1000) + auto()
    s['v311-shared-mixed'] = sub0 + v4 + pub2 \
        + subscribe([(F_SHARE_A, 1)], 0) + subscribe([(F_SHARE_A, 2)], 1) + auto() \
        + publish(2, T_A, qos=1) + publish(2, T_A, qos=2, packet_id=2) + auto() + drop(0) + auto()
    s['v31-retained-app'] = v3 + app_publish(topic=T_CD, qos=1, retain=True, expiry=True) \
        + subscribe([(F_HASH, 2)], 2) + auto() + v4 + subscribe([(F_HASH, 1)], 1) + auto()
    settings['keep-alive-cap'] = KEEP_ALIVE_CAP | RECEIVE_MAX_1
    s['keep-alive-cap'] = session(0, ID_A, keep_alive=0, expiry=0xFFFFFFFF) + clock(3000) \
        + take(0)
    return {name: bytes([settings.get(name, 0)]) + body for name, body in s.items()}


def write(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if not name.startswith('regress-') and name.endswith('.bin'):
            os.remove(os.path.join(directory, name))
    for name, body in sorted(seeds.items()):
        with open(os.path.join(directory, name + '.bin'), 'wb') as f:
            f.write(body)


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus')
    write(os.path.join(base, 'fuzz_broker_client'), client_seeds())
    write(os.path.join(base, 'fuzz_broker'), broker_seeds())


if __name__ == '__main__':
    main()
