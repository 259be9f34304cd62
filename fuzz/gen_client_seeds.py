#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz_client target.

Usage: gen_client_seeds.py [corpus directory]   (default: fuzz/corpus/fuzz_client
next to this script)

Each seed is a program in the input language fuzz_client.c describes: a
settings byte, then operations with their parameter bytes. The helpers below
emit exactly the bytes each operation reads, in the order it reads them, so
every seed reaches the state its name says (connected, publishing, resuming a
session, ...) instead of failing at the first packet. Files whose name starts
with "regress-" are inputs that once crashed the client; this script never
writes or removes them. Rerun the script after changing the input language.
"""

import os
import sys

# Operation codes (the operation byte modulo 16).
FEED_RAW, FEED_CONNACK, FEED_PACKET, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, ACK, AUTH, \
    DISCONNECT, LOST, CONNECT, CLOCK, DRAIN, CONSUME, FAIL_NEXT, COPY = range(16)

# Settings bits.
MANUAL_ACK, SMALL_LIMITS, PINGRESP_TIMEOUT, NO_AUTO_CONNECT = 1, 2, 4, 8
# Settings bits 6-7: the protocol version of the automatic CONNECT (none: MQTT 5).
AUTO_V311, AUTO_V31 = 0x40, 0x80
# connect(version=...): bits 5-6 of its limits byte.
VERSION_BITS = {5: 0, 4: 1, 3: 2}

# Indices into the tables of fuzz_client.c.
T_A, T_AB, T_CDE, T_SYS, T_T1, T_SPORT, T_UTF8, T_EMPTY, T_PLUS, T_HASH, T_LONG = range(11)
F_APLUS, F_HASH, F_AB, F_SHARE, F_PPE, F_BAD, F_T1, F_EMPTY, F_SHARE_BAD, F_CDE, \
    F_SYS, F_ABHASH, F_PLUS = range(13)

ALL = 0x80  # chunk byte: feed at once; values below 0x80 feed (v & 15) + 1 bytes at a time


def feed_raw(data, chunk=ALL):
    assert len(data) <= 255
    return bytes([FEED_RAW, len(data), chunk]) + bytes(data)


def connack(session_present=False, receive_maximum=None, maximum_qos=None,
            retain_unavailable=False, topic_alias_maximum=None, maximum_packet_size=None,
            server_keep_alive=None, extra=None, chunk=ALL):
    """extra: None, or the variant byte (v % 4: 0 refusal, 1 assigned id,
    2 authentication method, 3 reason string and user properties)."""
    flags = 0
    params = []
    if session_present:
        flags |= 0x01
    if receive_maximum is not None:
        flags |= 0x02
        params.append(receive_maximum - 1)
    if maximum_qos is not None:
        flags |= 0x04
        params.append(maximum_qos)
    if retain_unavailable:
        flags |= 0x08
    if topic_alias_maximum is not None:
        flags |= 0x10
        params.append(topic_alias_maximum)
    if maximum_packet_size is not None:
        flags |= 0x20
        params.append((maximum_packet_size - 20) // 2)
    if server_keep_alive is not None:
        flags |= 0x40
        params.append(server_keep_alive)
    if extra is not None:
        flags |= 0x80
        params.append(extra)
    return bytes([FEED_CONNACK, flags] + params + [chunk])


def server_publish(qos=0, packet_id=1, topic=T_A, alias=None, dup=False, retain=False,
                   user_props=0, sub_ids=0, payload=b"", chunk=ALL):
    """topic None sends an empty topic (with the alias)."""
    flags = qos
    if dup:
        flags |= 0x04
    if retain:
        flags |= 0x08
    params = []
    if qos:
        params.append(packet_id - 1)
    if topic is None:
        assert alias is not None
        flags |= 0x10
    else:
        params.append(topic)
    if alias is not None:
        if topic is not None:
            flags |= 0x20
        params.append(alias - 1)
    if user_props:
        flags |= 0x40
        params.append(user_props - 1)
    if sub_ids:
        flags |= 0x80
        params.append(sub_ids - 1)
    assert len(payload) < 48
    return bytes([FEED_PACKET, 0, flags] + params + [len(payload)]) + payload + bytes([chunk])


PUBACK_RCS = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
PUBREL_RCS = [0x00, 0x92]
SUBACK_RCS = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
UNSUBACK_RCS = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]
DISCONNECT_RCS = [0x00, 0x80, 0x81, 0x82, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x93, 0x94, 0x95,
                  0x9C, 0x9D]


def ack(kind, packet_id, rc=0x00, reason_string=False, chunk=ALL):
    """kind: 'puback', 'pubrec', 'pubrel' or 'pubcomp'; packet_id 1..8."""
    k = {"puback": 1, "pubrec": 2, "pubrel": 3, "pubcomp": 4}[kind]
    table = PUBREL_RCS if k >= 3 else PUBACK_RCS
    return bytes([FEED_PACKET, k, packet_id - 1, table.index(rc),
                  1 if reason_string else 0, chunk])


def recent_ack(kind, slot, rc=0x00, chunk=ALL):
    """Acknowledges the identifier the client used slot-th most recently."""
    k = {"puback": 1, "pubrec": 2, "pubrel": 3, "pubcomp": 4}[kind]
    table = PUBREL_RCS if k >= 3 else PUBACK_RCS
    return bytes([FEED_PACKET, k, 0x80 | slot, table.index(rc), 0, chunk])


def suback(packet_id, rcs, unsub=False, chunk=ALL):
    table = UNSUBACK_RCS if unsub else SUBACK_RCS
    return bytes([FEED_PACKET, 6 if unsub else 5, packet_id - 1, len(rcs) - 1] +
                 [table.index(r) for r in rcs] + [chunk])


def pingresp(chunk=ALL):
    return bytes([FEED_PACKET, 7, chunk])


def server_disconnect(rc=0x00, props=False, chunk=ALL):
    return bytes([FEED_PACKET, 8, DISCONNECT_RCS.index(rc), 1 if props else 0, chunk])


def server_auth(rc=0x18, method="m", data=b"", chunk=ALL):
    flags = 1 if rc == 0x18 else 0
    if method is None:
        flags |= 2
    elif method != "m":
        flags |= 4
    out = [FEED_PACKET, 9]
    if data:
        flags |= 8
        return bytes(out + [flags, len(data)]) + data + bytes([chunk])
    return bytes(out + [flags, chunk])


def publish(topic=T_AB, qos=0, retain=False, payload=b"", message_expiry=False,
            user_props=False, response=False, forbidden_alias=False, no_props=False):
    flags = qos
    if retain:
        flags |= 0x04
    if message_expiry:
        flags |= 0x08
    if user_props:
        flags |= 0x10
    if response:
        flags |= 0x20
    if forbidden_alias:
        flags |= 0x40
    if no_props:
        flags |= 0x80
    assert len(payload) <= 255
    return bytes([PUBLISH, flags, topic, len(payload)]) + payload


def subscribe(subs, sub_id=None, user_props=False):
    """subs: list of (filter index, qos, no_local, retain_as_published, retain_handling)."""
    out = [SUBSCRIBE, len(subs) - 1]
    for f, qos, nl, rap, rh in subs:
        out += [f, qos | (4 if nl else 0) | (8 if rap else 0) | (rh << 4)]
    flags = (1 if sub_id is not None else 0) | (2 if user_props else 0)
    out.append(flags)
    if sub_id is not None:
        out.append(sub_id - 1)
    return bytes(out)


def unsubscribe(filters):
    assert 1 <= len(filters) <= 2
    return bytes([UNSUBSCRIBE, len(filters) - 1] + filters)


ACK_RCS = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99, 0x01]


def acknowledge(packet_id=None, slot=None, rc=0x00):
    idb = (0x80 | slot) if slot is not None else packet_id - 1
    return bytes([ACK, idb, ACK_RCS.index(rc)])


AUTH_RCS = [0x18, 0x19, 0x00, 0x80]


def auth(rc=0x18, data=b"", reason_string=False):
    # Flags: bit 0 adds a Reason String, bit 1 passes no properties at all.
    return bytes([AUTH, AUTH_RCS.index(rc), len(data)]) + data + \
        bytes([1 if reason_string else 2])


CLIENT_DISCONNECT_RCS = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x93, 0x98, 0x01]


def disconnect(rc=0x00, session_expiry=None, reason_string=False):
    flags = 0
    if session_expiry is not None:
        flags |= 1
        if session_expiry == 0:
            flags |= 2
    if reason_string:
        flags |= 4
    if session_expiry is None and not reason_string:
        flags |= 8
    return bytes([DISCONNECT, CLIENT_DISCONNECT_RCS.index(rc), flags])


def connect(clean_start=True, keep_alive=None, session_expiry=None, empty_id=False,
            auth_method=False, will=None, user_props=False, credentials=False,
            receive_maximum=None, topic_alias_maximum=None, maximum_packet_size=None,
            no_problem_info=False, response_info=False, version=5):
    """will: None or (topic index, qos); session_expiry 255 means 0xFFFFFFFF;
    version 5, 4 (MQTT 3.1.1) or 3 (MQTT 3.1)."""
    flags = 0
    params = []
    if clean_start:
        flags |= 0x01
    if keep_alive is not None:
        flags |= 0x02
        params.append(keep_alive)
    if session_expiry is not None:
        flags |= 0x04
        params.append(session_expiry)
    if empty_id:
        flags |= 0x08
    if auth_method:
        flags |= 0x10
    if will is not None:
        flags |= 0x20
        params += [will[0], will[1]]
    if user_props:
        flags |= 0x40
    if credentials:
        flags |= 0x80
    limits = 0
    lparams = []
    if receive_maximum is not None:
        limits |= 1
        lparams.append(receive_maximum - 1)
    if topic_alias_maximum is not None:
        limits |= 2
        lparams.append(topic_alias_maximum)
    if maximum_packet_size is not None:
        limits |= 4
        lparams.append(maximum_packet_size - 16)
    if no_problem_info:
        limits |= 8
    if response_info:
        limits |= 16
    limits |= VERSION_BITS[version] << 5
    return bytes([CONNECT, flags] + params + [limits] + lparams)


def lost():
    return bytes([LOST])


def clock(step):
    """step: milliseconds (multiple of 10 below 1280, or whole seconds below
    128 s), or 'expiry' to jump to the next expiry."""
    if step == "expiry":
        return bytes([CLOCK, 0xFF])
    if step % 1000 == 0 and step // 1000 < 127:
        return bytes([CLOCK, 0x80 | (step // 1000)])
    assert step % 10 == 0 and step // 10 < 128
    return bytes([CLOCK, step // 10])


def drain():
    return bytes([DRAIN])


def consume(fraction=None):
    """None consumes everything; otherwise the share of 127 to consume."""
    return bytes([CONSUME, 0xFF if fraction is None else fraction])


def fail_next():
    return bytes([FAIL_NEXT])


def copy(cap_bytes):
    return bytes([COPY, cap_bytes // 4])


def out():
    """Drain and write everything: what a loop iteration does."""
    return drain() + consume()


def up(settings=0, **connack_args):
    """Settings, the automatic CONNECT written out, and an accepting CONNACK."""
    return bytes([settings]) + consume() + connack(**connack_args) + out()


def hexb(s):
    return bytes.fromhex(s)


SEEDS = {}


def seed(name, data):
    assert name not in SEEDS
    SEEDS[name] = data


# ---- connecting ----
seed("connect-only", bytes([0]))
seed("connack-plain", up())
seed("connack-byte-by-byte", bytes([0]) + consume() + connack(chunk=0) + out())
seed("connack-all-properties",
     up(receive_maximum=2, maximum_qos=1, retain_unavailable=True, topic_alias_maximum=3,
        maximum_packet_size=120, server_keep_alive=2, extra=3))
seed("connack-assigned-id",
     bytes([NO_AUTO_CONNECT]) + connect(empty_id=True, keep_alive=0) + consume() +
     connack(extra=1) + out())
seed("connack-refused", bytes([0]) + consume() + connack(extra=0x04 * 3) + out() +
     lost() + connect() + consume() + connack() + out())
seed("connack-twice", up() + connack() + out())
seed("connack-session-present-first", bytes([0]) + consume() + connack(session_present=True) +
     out())
seed("connect-options",
     bytes([NO_AUTO_CONNECT]) +
     connect(clean_start=True, keep_alive=3, session_expiry=255, will=(T_AB, 1),
             user_props=True, credentials=True, receive_maximum=3, topic_alias_maximum=2,
             maximum_packet_size=200, no_problem_info=True, response_info=True) +
     copy(16) + copy(400) + connack() + out())
seed("connect-bad-will-topic",
     bytes([NO_AUTO_CONNECT]) + connect(will=(T_PLUS, 0)) + connect() + consume() + connack() +
     out())

# ---- publishing ----
seed("publish-qos012",
     up(topic_alias_maximum=4) +
     publish(T_AB, 0, payload=b"zero", user_props=True) +
     publish(T_AB, 1, payload=b"one", message_expiry=True) +
     publish(T_CDE, 2, payload=b"two", response=True) + out() +
     ack("puback", 1) + ack("pubrec", 2) + out() + ack("pubcomp", 2, reason_string=True) +
     out())
seed("publish-receive-maximum",
     up(receive_maximum=1) + b"".join(publish(T_A, 1, payload=bytes([i])) for i in range(5)) +
     out() + b"".join(recent_ack("puback", i) + out() for i in range(5)))
seed("publish-topic-aliases",
     up(topic_alias_maximum=2) +
     b"".join(publish(t, 1, payload=b"x") for t in [T_A, T_AB, T_A, T_CDE, T_AB, T_CDE]) +
     out() + b"".join(ack("puback", i) for i in range(1, 7)) + out())
seed("publish-alias-too-large",
     up(topic_alias_maximum=1, maximum_packet_size=262) + publish(T_LONG, 0, payload=b"a") +
     publish(T_LONG, 0, payload=b"abcdefghijklmnopqrstuvwxyz") + out())
seed("publish-failures",
     up(topic_alias_maximum=2) + publish(T_A, 1) + publish(T_A, 2) + out() +
     ack("puback", 1, rc=0x87) + ack("pubrec", 2, rc=0x97) + out() + ack("pubcomp", 2) +
     ack("puback", 5) + out())
seed("publish-pubrec-unknown", up() + ack("pubrec", 3) + out())
seed("publish-invalid",
     up() + publish(T_PLUS) + publish(T_HASH) + publish(T_EMPTY) +
     publish(T_AB, 1, forbidden_alias=True) + publish(T_SYS, 2, no_props=True) + out())
seed("publish-retain-unavailable",
     up(retain_unavailable=True) + publish(T_AB, 1, retain=True) + publish(T_AB, 1) + out())
seed("publish-maximum-qos-0",
     up(maximum_qos=0) + publish(T_AB, 2, payload=b"q2") + publish(T_AB, 1) + out())
seed("publish-too-large",
     up(maximum_packet_size=40) + publish(T_LONG, 1) + publish(T_A, 1, payload=bytes(60)) +
     out())
seed("publish-queue-full",
     bytes([SMALL_LIMITS | NO_AUTO_CONNECT]) +
     b"".join(publish(T_A, 1, payload=bytes(100)) for _ in range(7)) + connect() + consume() +
     connack() + out())
seed("publish-before-connack",
     bytes([0]) + publish(T_AB, 1, payload=b"early") + consume() + connack() + out() +
     ack("puback", 1) + out())

# ---- receiving ----
seed("inbound-qos012-aliases",
     up() + server_publish(1, 3, T_T1, alias=2, user_props=2, payload=b"hi", chunk=0) +
     server_publish(2, 4, None, alias=2, payload=b"yo") + server_publish(0, 0, T_SPORT) +
     server_publish(2, 4, None, alias=2, dup=True, payload=b"yo") + out() +
     ack("pubrel", 4) + ack("pubrel", 5) + out())
seed("inbound-alias-unknown", up() + server_publish(0, 0, None, alias=4) + out())
seed("inbound-alias-out-of-range",
     up(settings=SMALL_LIMITS) + server_publish(0, 0, T_A, alias=3) + out())
seed("inbound-subscription-ids",
     up() + server_publish(1, 2, T_UTF8, sub_ids=3, retain=True, payload=b"p") + out())
seed("inbound-receive-maximum",
     up(settings=SMALL_LIMITS) +
     b"".join(server_publish(1, i, T_A, payload=b"m") for i in range(1, 4)) + out())
seed("inbound-manual-ack",
     up(settings=MANUAL_ACK) + server_publish(1, 1, T_A, payload=b"1") +
     server_publish(2, 2, T_AB, payload=b"2") + server_publish(1, 3, T_CDE) + out() +
     acknowledge(2) + consume() + acknowledge(3, rc=0x10) + acknowledge(1) + consume() +
     acknowledge(7) + ack("pubrel", 2) + out())
seed("inbound-manual-ack-recent",
     up(settings=MANUAL_ACK | SMALL_LIMITS) + server_publish(2, 5, T_T1, payload=b"a") +
     server_publish(1, 6, T_T1) + drain() + acknowledge(slot=1, rc=0x80) +
     acknowledge(slot=0) + consume() + ack("pubrel", 5) + out())
seed("inbound-auto-ack-refused", up() + server_publish(1, 1) + drain() + acknowledge(1) + out())
seed("inbound-large-byte-chunks",
     up() + server_publish(0, 0, T_LONG, payload=bytes(range(40)), chunk=3) + out() +
     server_publish(1, 1, T_LONG, payload=b"x", chunk=1) + out())

# ---- subscriptions ----
seed("subscribe-unsubscribe",
     up() +
     subscribe([(F_APLUS, 1, False, False, 0), (F_HASH, 2, True, True, 1)], sub_id=5,
               user_props=True) + subscribe([(F_APLUS, 1, False, False, 0)]) + out() +
     suback(1, [0x01, 0x02]) + out() + subscribe([(F_CDE, 0, False, False, 2)]) + out() +
     suback(2, [0x87]) + out() + unsubscribe([F_CDE]) + unsubscribe([F_APLUS]) +
     unsubscribe([F_APLUS, F_HASH]) + out() + suback(3, [0x00, 0x11], unsub=True) + out())
seed("subscribe-shared-and-invalid",
     up() + subscribe([(F_SHARE, 1, False, False, 0)]) +
     subscribe([(F_SHARE, 1, True, False, 0)]) + subscribe([(F_BAD, 0, False, False, 0)]) +
     subscribe([(F_SHARE_BAD, 0, False, False, 0)]) + subscribe([(F_EMPTY, 0, False, False, 0)]) +
     out() + suback(1, [0x9E]) + out())
seed("subscribe-count-mismatch",
     up() + subscribe([(F_AB, 0, False, False, 0), (F_T1, 1, False, False, 0)]) + out() +
     suback(1, [0x00]) + out())
seed("subscribe-before-connack",
     bytes([0]) + subscribe([(F_AB, 0, False, False, 0)]) + unsubscribe([F_AB]) + consume() +
     connack() + out())
seed("subscribe-then-message",
     up() + subscribe([(F_SYS, 2, False, False, 0), (F_PPE, 1, False, False, 0)]) + out() +
     suback(1, [0x02, 0x01]) + server_publish(2, 1, T_SYS) + server_publish(1, 2, T_CDE) +
     out() + ack("pubrel", 1) + out())

# ---- sessions ----
seed("session-resume",
     bytes([NO_AUTO_CONNECT]) + connect(clean_start=True, session_expiry=200, keep_alive=0) +
     consume() + connack() + out() + publish(T_A, 1, payload=b"p1") +
     publish(T_AB, 2, payload=b"p2") + subscribe([(F_AB, 1, False, False, 0)]) + out() +
     ack("pubrec", 2) + out() + lost() + drain() + publish(T_CDE, 1, payload=b"p5") +
     connect(clean_start=False, session_expiry=200) + consume() +
     connack(session_present=True) + out() + ack("puback", 1) + ack("pubcomp", 2) +
     ack("puback", 4) + out())
seed("session-not-present",
     bytes([NO_AUTO_CONNECT]) + connect(session_expiry=100) + consume() + connack() + out() +
     publish(T_A, 1) + publish(T_A, 2) + out() + lost() +
     connect(clean_start=False, session_expiry=100) + consume() + connack() + out())
seed("session-clean-start-discards",
     bytes([NO_AUTO_CONNECT]) + connect(session_expiry=100) + consume() + connack() + out() +
     publish(T_A, 1) + consume() + lost() + connect(clean_start=True) + drain() + consume() +
     connack() + out())
seed("session-lost-twice",
     up(topic_alias_maximum=2) + publish(T_AB, 1) + consume(60) + lost() + lost() + connect() +
     consume(10) + consume() + connack(topic_alias_maximum=2) + publish(T_AB, 1) + out())
seed("session-resume-maximum-qos",
     bytes([NO_AUTO_CONNECT]) + publish(T_AB, 2) + connect(clean_start=False, session_expiry=200) +
     consume() + connack(maximum_qos=1) + out() + lost() +
     connect(clean_start=False, session_expiry=200) + consume() +
     connack(session_present=True, maximum_qos=1) + out())
seed("session-no-expiry-present",
     bytes([NO_AUTO_CONNECT]) + connect(session_expiry=0) + consume() + connack() + out() +
     lost() + connect(clean_start=False) + consume() + connack(session_present=True) + out())

# ---- keep alive ----
seed("keepalive-ping",
     up() + clock("expiry") + out() + clock(500) + pingresp() + clock("expiry") + out() +
     pingresp() + out())
seed("keepalive-timeout", up() + clock("expiry") + consume() + clock("expiry") + out())
seed("keepalive-pingresp-timeout",
     up(settings=PINGRESP_TIMEOUT, server_keep_alive=1) + clock("expiry") + consume() +
     clock(490) + clock(10) + out())
seed("keepalive-server-zero", up(server_keep_alive=0) + clock(100000) + out())
seed("keepalive-unsolicited-pingresp", up() + pingresp() + out())

# ---- disconnecting ----
seed("disconnect-client",
     up() + disconnect(0x04, reason_string=True) + out() + lost() + connect() + consume() +
     connack() + out())
seed("disconnect-session-expiry-refused", up() + disconnect(0x00, session_expiry=60) + out())
seed("disconnect-server", up() + server_disconnect(0x8B, props=True) + out() + lost())
seed("disconnect-then-feed", up() + disconnect() + consume() + pingresp() + out())
# connect() straight after a DISCONNECT, without connection_lost(): aliases
# start over, the unanswered SUBSCRIBE ends, old input is not read again.
seed("disconnect-then-connect",
     up(topic_alias_maximum=2) + publish(T_AB, 0) + server_publish(0, 0, T_A, alias=1) + out() +
     subscribe([(F_AB, 1, False, False, 0)]) + out() + disconnect() + consume() + connect() +
     drain() + consume() + connack(topic_alias_maximum=2) + publish(T_AB, 0) + publish(T_AB, 0) +
     server_publish(0, 0, None, alias=1) + out())
seed("server-disconnect-then-connect",
     up() + feed_raw(hexb("e0 00 d0 00")) + connect() + consume() + connack() + drain() + out())

# ---- enhanced authentication ----
seed("auth-exchange",
     bytes([NO_AUTO_CONNECT]) + connect(auth_method=True) + consume() +
     server_auth(0x18, "m", b"s1") + drain() + auth(0x18, b"c1") + consume() +
     connack(extra=2) + out() + auth(0x19, b"r1", reason_string=True) + consume() +
     server_auth(0x00, "m") + out())
seed("auth-wrong-method",
     bytes([NO_AUTO_CONNECT]) + connect(auth_method=True) + consume() +
     server_auth(0x18, "other") + out())
seed("auth-without-method", up() + server_auth(0x18, "m") + auth(0x18) + out())

# ---- protocol errors in raw bytes ----
seed("raw-malformed-after-connack", up() + feed_raw(hexb("3f 02 00 00")) + out())
seed("raw-server-only-packet", up() + feed_raw(hexb("c0 00")) + out())
seed("raw-packet-before-connack", bytes([0]) + consume() + feed_raw(hexb("40 02 00 01")) + out())
seed("raw-stream",
     up() + feed_raw(hexb("32 0a 00 03 74 2f 31 00 0a 00 68 69"
                          " 30 06 00 03 74 2f 32 00"
                          " 40 02 00 01 90 04 00 09 00 00"), chunk=4) + out())
seed("raw-too-large", up(settings=SMALL_LIMITS) + feed_raw(hexb("30 ff 01") + bytes(40)) + out())
seed("raw-puback-unknown", up() + feed_raw(hexb("40 02 00 07")) + out())
seed("raw-pubrel-unknown", up() + feed_raw(hexb("62 02 00 09")) + out())

# ---- what the server does not allow or must not send ----
seed("subscribe-features-unavailable",
     up(extra=3) + subscribe([(F_APLUS, 0, False, False, 0)]) +
     subscribe([(F_SHARE, 1, False, False, 0)]) +
     subscribe([(F_AB, 0, False, False, 0)], sub_id=5) +
     subscribe([(F_AB, 0, False, False, 0), (F_HASH, 0, False, False, 0)]) +
     subscribe([(F_AB, 1, False, False, 0)], user_props=True) + out() + suback(1, [0x01]) +
     out())
seed("problem-info-refused",
     bytes([NO_AUTO_CONNECT]) + connect(no_problem_info=True) + consume() + connack(extra=3) +
     out() + publish(T_A, 1) + out() + ack("puback", 1, reason_string=True) + out())
seed("problem-info-allowed",
     bytes([NO_AUTO_CONNECT]) + connect(no_problem_info=True) + consume() + connack(extra=3) +
     out() + server_publish(1, 1, T_A, user_props=1) + out() +
     server_disconnect(0x8B, props=True) + out())
seed("server-disconnect-session-expiry",
     up() + feed_raw(hexb("e0 07 00 05 11 00 00 00 0a")) + out())
seed("connack-response-info-unrequested",
     bytes([0]) + consume() + feed_raw(hexb("20 09 00 00 06 1a 00 03 61 2f 62")) + out())
seed("connack-response-info-requested",
     bytes([NO_AUTO_CONNECT]) + connect(response_info=True) + consume() +
     feed_raw(hexb("20 09 00 00 06 1a 00 03 61 2f 62")) + out())
seed("connack-auth-method-unrequested", bytes([0]) + consume() + connack(extra=2) + out())
seed("connect-small-maximum-packet-size",
     bytes([NO_AUTO_CONNECT]) + connect(maximum_packet_size=64) + consume() + connack() + out() +
     feed_raw(hexb("30 3e 00 01 74 00") + bytes(58)) + out() +
     feed_raw(hexb("30 3f 00 01 74 00") + bytes(59)) + out())

# ---- allocation failures ----
seed("alloc-fail-connack", bytes([0]) + consume() + fail_next() + connack() + connack() + out())
seed("alloc-fail-publish",
     up(topic_alias_maximum=2) + fail_next() + publish(T_AB, 1, payload=b"x") + fail_next() +
     publish(T_AB, 1, payload=b"y") + fail_next() + consume() + drain() + consume())
seed("alloc-fail-inbound",
     up() + fail_next() + server_publish(2, 1, T_AB, alias=1, payload=b"m") + fail_next() +
     server_publish(2, 1, T_AB, alias=1, payload=b"m") + out() + fail_next() +
     ack("pubrel", 1) + out())
seed("alloc-fail-subscribe",
     up() + fail_next() + subscribe([(F_AB, 0, False, False, 0)]) + fail_next() +
     subscribe([(F_AB, 0, False, False, 0)]) + out() + suback(1, [0x00]) + fail_next() +
     unsubscribe([F_AB]) + out())
seed("alloc-fail-lost",
     up() + subscribe([(F_AB, 0, False, False, 0)]) + publish(T_A, 1) + out() + fail_next() +
     lost() + drain() + fail_next() + connect() + connect() + consume() + connack() + out())
seed("alloc-fail-lost-many-requests",
     up() + b"".join(subscribe([(f, 0, False, False, 0)])
                     for f in [F_APLUS, F_HASH, F_AB, F_SHARE, F_PPE, F_T1, F_CDE, F_SYS,
                               F_ABHASH, F_PLUS]) +
     out() + fail_next() + lost() + drain())
seed("alloc-fail-ping", up() + fail_next() + clock("expiry") + clock(10) + out())
# The event queue grows at the ninth message of one read: memory runs out
# part way through the packets of one feed_bytes().
seed("alloc-fail-burst",
     up() + fail_next() +
     feed_raw(b"".join(hexb("30 05 00 01 62 00") + bytes([0x30 + i]) for i in range(12))) +
     out())
# A protocol error (a PINGREQ from the server) whose DISCONNECT needs the
# outbound buffer to grow: 510 unwritten bytes in a buffer of 512.
seed("alloc-fail-disconnect",
     up() + publish(T_LONG, 0, payload=bytes(255)) + publish(T_A, 0, payload=b"wxyz") + copy(4) +
     fail_next() + feed_raw(hexb("c0 00")) + out())
# Two acknowledgements due at once, 9 bytes, behind 507 unwritten bytes in a
# buffer of 512: they need it to grow, and go out together or not at all.
seed("alloc-fail-ack-flush",
     up(settings=MANUAL_ACK) + server_publish(1, 1, T_A, payload=b"1") +
     server_publish(2, 2, T_AB, payload=b"2") + drain() + acknowledge(2) +
     publish(T_LONG, 0, payload=bytes(255)) + publish(T_A, 0, payload=b"x") + copy(4) +
     fail_next() + acknowledge(1, rc=0x10) + acknowledge(1, rc=0x10) + out() +
     ack("pubrel", 2) + out())

# ---- MQTT 3.1.1 and 3.1 ----
# A refusal in connack(extra=...): 3.1.1 return code (v >> 2) % 5 + 1.
seed("v311-publish-qos012",
     up(settings=AUTO_V311) + publish(T_AB, 0, payload=b"zero") +
     publish(T_AB, 1, retain=True, payload=b"one") + publish(T_CDE, 2, payload=b"two") + out() +
     ack("puback", 1) + ack("pubrec", 2) + out() + ack("pubcomp", 2) + out())
seed("v31-subscribe-message",
     up(settings=AUTO_V31) + subscribe([(F_APLUS, 1, False, False, 0), (F_HASH, 2, False, False, 0)]) +
     out() + suback(1, [0x01, 0x80]) + server_publish(1, 3, T_AB, payload=b"m1") +
     server_publish(2, 4, T_A, retain=True, payload=b"m2") + out() + ack("pubrel", 4) + out() +
     server_publish(0, topic=T_CDE, payload=b"m0") + out())
seed("v311-unsubscribe-ack",
     up(settings=AUTO_V311) + subscribe([(F_AB, 0, False, False, 0)]) + out() + suback(1, [0x00]) +
     unsubscribe([F_AB, F_PLUS]) + out() + suback(2, [0x00], unsub=True) + out() +
     pingresp() + clock("expiry") + out() + pingresp() + out())
seed("v311-refused",
     bytes([AUTO_V311]) + consume() + connack(extra=0x04 * 4) + out() + lost() +
     connect(version=4, keep_alive=1) + consume() + connack(extra=0x04 * 1) + out() + lost() +
     connect(version=4) + consume() + connack(session_present=True) + out())
seed("v311-v5-only-refused",
     up(settings=AUTO_V311 | MANUAL_ACK) + publish(T_AB, 1, message_expiry=True) +
     publish(T_AB, 0, user_props=True) + publish(T_AB, 0, forbidden_alias=True) +
     subscribe([(F_AB, 1, True, False, 0)]) + subscribe([(F_AB, 1, False, False, 2)]) +
     subscribe([(F_AB, 1, False, False, 0)], sub_id=3) + auth(0x19, b"x") +
     server_publish(1, 2, T_AB, payload=b"q") + drain() + acknowledge(2, rc=0x80) +
     acknowledge(2) + out() + server_auth() + out() + lost() +
     connect(version=4, session_expiry=10) + connect(version=3, user_props=True) +
     connect(version=4, auth_method=True) + connect(version=4, receive_maximum=2) +
     connect(version=3, no_problem_info=True) + connect(version=4, response_info=True) +
     connect(version=4, clean_start=False, empty_id=True) + connect(version=4) + consume() +
     connack() + out() + disconnect(0x04) + disconnect(session_expiry=0) + disconnect() + out())
seed("v311-session-resume",
     bytes([NO_AUTO_CONNECT]) + connect(version=4, clean_start=False, keep_alive=2) + consume() +
     connack() + out() + publish(T_A, 1, payload=b"a") + publish(T_AB, 2, payload=b"b") +
     out() + ack("pubrec", 2) + out() + lost() + drain() +
     connect(version=4, clean_start=False, keep_alive=2) + consume() +
     connack(session_present=True) + out() + ack("puback", 1) + ack("pubcomp", 2) + out())
seed("v31-will-keep-alive",
     bytes([NO_AUTO_CONNECT | PINGRESP_TIMEOUT]) +
     connect(version=3, keep_alive=1, will=(T_AB, 1), credentials=True) + consume() + connack() +
     out() + clock("expiry") + out() + clock("expiry") + out() + lost() + drain())
seed("v311-then-v5",
     up(settings=AUTO_V311) + publish(T_AB, 1, payload=b"kept") + out() + lost() + drain() +
     connect(clean_start=False, session_expiry=60, topic_alias_maximum=2) + consume() +
     connack(session_present=True, topic_alias_maximum=2, extra=3) + out() +
     publish(T_AB, 1, user_props=True) + out() + lost() + drain() +
     connect(version=3, clean_start=False) + consume() + connack(session_present=True) + out() +
     server_disconnect() + out())
seed("v311-protocol-error",
     up(settings=AUTO_V311) + feed_raw(hexb("62 03 00 01 00")) + out() + lost() +
     connect(version=4) + consume() + connack() + feed_raw(hexb("f0 00")) + out())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "fuzz_client")
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(target):
        if name.endswith(".bin") and not name.startswith("regress-"):
            os.remove(os.path.join(target, name))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(target, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {target}")


if __name__ == "__main__":
    main()
