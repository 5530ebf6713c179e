/*
 * The engine's ABI in C: connection slots, feeding, frames, handshakes, on whichever back end runs the module
 * (wsk_backend.h: WAMR or wasm2c). One instance, shared by every server and client; host lock held.
 */
#include "wsk_engine.h"

#include <stdio.h>
#include <string.h>

#include "wsk_backend.h"
#include "wsk_config.h"
#include "wsk_log.h"
#include "wsk_platform.h"

static const char *TAG = "wsk_engine";

const char *const wsk_export_names[WSK_EXPORT_COUNT] = WSK_EXPORT_NAMES;
const uint8_t wsk_export_cells[WSK_EXPORT_COUNT] = WSK_EXPORT_CELLS;

/* The public opcodes and close codes (include/wsk_common.h, which users include without the generated ABI)
   are the engine's. */
_Static_assert(WSK_OP_CONTINUATION == WSK_OPCODE_CONTINUATION && WSK_OP_TEXT == WSK_OPCODE_TEXT &&
                   WSK_OP_BINARY == WSK_OPCODE_BINARY && WSK_OP_CLOSE == WSK_OPCODE_CLOSE &&
                   WSK_OP_PING == WSK_OPCODE_PING && WSK_OP_PONG == WSK_OPCODE_PONG,
               "wsk_opcode_t differs from the engine's Opcode (wsk_abi.h)");
_Static_assert(WSK_CLOSE_NORMAL == WSK_CLOSE_CODE_NORMAL && WSK_CLOSE_GOING_AWAY == WSK_CLOSE_CODE_GOING_AWAY &&
                   WSK_CLOSE_NO_STATUS == WSK_CLOSE_CODE_NO_STATUS && WSK_CLOSE_ABNORMAL == WSK_CLOSE_CODE_ABNORMAL &&
                   WSK_CLOSE_INTERNAL_ERROR == WSK_CLOSE_CODE_INTERNAL_ERROR &&
                   WSK_CLOSE_POLICY_VIOLATION == WSK_CLOSE_CODE_POLICY_VIOLATION &&
                   WSK_CLOSE_TRY_AGAIN_LATER == WSK_CLOSE_CODE_TRY_AGAIN_LATER,
               "WSK_CLOSE_* differ from the engine's CloseCode (wsk_abi.h)");

/* The configuration must fit the engine the host runs (the firmware build): init places the slots and the I/O area
   (rounded up to 16 bytes, connection.ts requiredBytes) in the build's static pool, or fails. */
#define WSK_IO_AREA_BYTES ((CONFIG_WSK_ENGINE_IO_BYTES + 15) & ~15)
_Static_assert(CONFIG_WSK_MAX_CONNECTIONS * WSK_SLOT_BYTES + WSK_IO_AREA_BYTES <= WSK_FIRMWARE_POOL_BYTES,
               "CONFIG_WSK_MAX_CONNECTIONS slots + CONFIG_WSK_ENGINE_IO_BYTES exceed the firmware engine's pool "
               "(WSK_FIRMWARE_POOL_BYTES): lower one of them");
/* Half the I/O area receives; the other half must hold a control frame staged at its end and written at its
   start, and a handshake response (WSK_BUILDER_ROOM_BYTES beyond its inputs). */
_Static_assert(CONFIG_WSK_ENGINE_IO_BYTES / 2 >= 2 * WSK_BUILDER_ROOM_BYTES,
               "CONFIG_WSK_ENGINE_IO_BYTES is too small for the engine's handshake builders");
_Static_assert(CONFIG_WSK_ENGINE_IO_BYTES / 2 >= WSK_MAX_HEADER_BYTES + 2 * WSK_MAX_CONTROL_PAYLOAD,
               "CONFIG_WSK_ENGINE_IO_BYTES is too small for a control frame");

/* What call_i32 returns for a call that trapped (or was refused): below every CallError and -HandshakeError. */
#define CALL_TRAPPED (-1000)

static struct {
    int refs;
    uint8_t *base; /* linear memory; it never grows, so this stays valid */
    uint32_t memory_size;
    uint32_t result, events, out, entropy, handshake, slots;
    uint32_t entropy_bytes, event_capacity;
    uint32_t rx, rx_bytes, tx, tx_bytes;
    bool used[CONFIG_WSK_MAX_CONNECTIONS];
    uint32_t used_count;
} E;

/* A 32-bit field the engine wrote at `addr` (an address it handed out); 0 if that lies outside memory. */
static uint32_t U32(uint32_t addr)
{
    uint32_t value = 0;
    if (E.memory_size >= 4 && addr <= E.memory_size - 4) memcpy(&value, E.base + addr, 4);
    return value;
}

/* True when [addr, addr + len) lies inside linear memory: checked before the host touches what the engine
   points at (the engine computes these addresses; a bug there must not become a host memory error). */
static bool in_memory(uint32_t addr, size_t len)
{
    return addr <= E.memory_size && len <= E.memory_size - addr;
}

/* A frame or handshake the engine wrote at the start of the transmit area: its size, or CALL_TRAPPED
   (WSK_ERR_ENGINE) if it claims more than the area holds. */
static int32_t tx_written(int32_t size)
{
    return size >= 0 && (uint32_t)size > E.tx_bytes ? CALL_TRAPPED : size;
}

/* The cells of an argument array: its size is the count the back end checks against WSK_EXPORT_CELLS. */
#define CELLS(array) ((uint32_t)(sizeof(array) / sizeof((array)[0])))

static bool call(wsk_export_t fn, uint32_t argc, uint32_t *argv)
{
    return wsk_backend_call(fn, argc, argv);
}

static int32_t call_i32(wsk_export_t fn, uint32_t argc, uint32_t *argv, int32_t on_trap)
{
    return call(fn, argc, argv) ? (int32_t)argv[0] : on_trap;
}

/* An f64 argument takes two cells, in the host's byte order. */
static void put_f64(uint32_t *cells, double value)
{
    memcpy(cells, &value, sizeof(value));
}

static void refill_entropy(void)
{
    if (U32(E.result + WSK_RESULT_ENTROPY_LEFT) >= E.entropy_bytes / 2) return;
    if (!in_memory(E.entropy, E.entropy_bytes)) return;
    if (wsk_fill_random(E.base + E.entropy, E.entropy_bytes) != WSK_OK) {
        WSK_LOGE(TAG, "no random bytes: the entropy pool stays low");
        return;
    }
    uint32_t argv[1] = {E.entropy_bytes};
    call(WSK_EXPORT_ENTROPY_FILLED, CELLS(argv), argv);
}

static uint32_t pointer_of(wsk_export_t fn)
{
    uint32_t result[1] = {0}; /* no arguments: the cell only receives the result */
    return call(fn, 0, result) ? result[0] : 0;
}

static wsk_err_t init_slots(void)
{
    E.result = pointer_of(WSK_EXPORT_RESULT_PTR);
    E.events = pointer_of(WSK_EXPORT_EVENTS_PTR);
    E.out = pointer_of(WSK_EXPORT_OUT_PTR);
    E.entropy = pointer_of(WSK_EXPORT_ENTROPY_PTR);
    E.handshake = pointer_of(WSK_EXPORT_HANDSHAKE_PTR);
    uint32_t index[1] = {WSK_BUILD_CONSTANT_ENTROPY_BYTES};
    E.entropy_bytes = (uint32_t)call_i32(WSK_EXPORT_BUILD_CONSTANT, CELLS(index), index, 0);
    index[0] = WSK_BUILD_CONSTANT_EVENT_CAPACITY;
    E.event_capacity = (uint32_t)call_i32(WSK_EXPORT_BUILD_CONSTANT, CELLS(index), index, 0);
    uint32_t argv[2] = {CONFIG_WSK_MAX_CONNECTIONS, CONFIG_WSK_ENGINE_IO_BYTES};
    int32_t rc = call_i32(WSK_EXPORT_INIT, CELLS(argv), argv, CALL_TRAPPED);
    if (rc != 0) {
        WSK_LOGE(TAG, "init(%d slots, %d I/O bytes) = %d: needs %u bytes of linear memory, has %u",
                 CONFIG_WSK_MAX_CONNECTIONS, CONFIG_WSK_ENGINE_IO_BYTES, (int)rc,
                 (unsigned)U32(E.result + WSK_RESULT_REQUIRED_BYTES), (unsigned)E.memory_size);
        return WSK_ERR_NO_MEM;
    }
    E.slots = U32(E.result + WSK_RESULT_SLOTS_PTR);
    uint32_t io = U32(E.result + WSK_RESULT_IO_PTR);
    uint32_t io_bytes = U32(E.result + WSK_RESULT_IO_BYTES);
    E.rx = io;
    E.rx_bytes = (io_bytes / 2) & ~15u;
    E.tx = io + E.rx_bytes;
    E.tx_bytes = io_bytes - E.rx_bytes;
    bool placed = in_memory(io, io_bytes) && in_memory(E.result, WSK_RESULT_BYTES) &&
                  in_memory(E.handshake, WSK_HANDSHAKE_FIELDS_BYTES) &&
                  in_memory(E.slots, (size_t)CONFIG_WSK_MAX_CONNECTIONS * WSK_SLOT_BYTES) &&
                  in_memory(E.events, (size_t)E.event_capacity * WSK_EVENT_BYTES) &&
                  in_memory(E.entropy, E.entropy_bytes) && E.out <= E.memory_size;
    if (!placed) {
        WSK_LOGE(TAG, "the engine's areas lie outside its %u bytes of linear memory", (unsigned)E.memory_size);
        return WSK_ERR_ENGINE;
    }
    /* The sizes the _Static_asserts above checked are the ones the engine placed. */
    if (io_bytes != CONFIG_WSK_ENGINE_IO_BYTES) {
        WSK_LOGE(TAG, "I/O area of %u bytes, asked for %d", (unsigned)io_bytes, CONFIG_WSK_ENGINE_IO_BYTES);
        return WSK_ERR_ENGINE;
    }
    refill_entropy();
    return WSK_OK;
}

static void unload(void)
{
    wsk_backend_unload();
    memset(&E, 0, sizeof(E));
}

wsk_err_t wsk_engine_acquire(void)
{
    if (E.refs > 0) {
        E.refs++;
        return WSK_OK;
    }
    wsk_err_t err = wsk_backend_load();
    if (err != WSK_OK) return err;
    E.base = wsk_backend_memory(&E.memory_size);
    err = init_slots();
    if (err != WSK_OK) {
        unload();
        return err;
    }
    E.refs = 1;
    WSK_LOGI(TAG, "engine loaded (%s): linear memory %u bytes, %d slots", wsk_backend_name,
             (unsigned)E.memory_size, CONFIG_WSK_MAX_CONNECTIONS);
    return WSK_OK;
}

void wsk_engine_release(void)
{
    if (E.refs == 0) return;
    if (--E.refs == 0) unload();
}

int wsk_engine_open(int role, uint64_t max_payload)
{
    int slot = 0;
    while (slot < CONFIG_WSK_MAX_CONNECTIONS && E.used[slot]) slot++;
    if (slot == CONFIG_WSK_MAX_CONNECTIONS) return -WSK_ERR_NO_SLOT;
    uint32_t argv[5] = {(uint32_t)slot, (uint32_t)role, WSK_CONN_FLAG_AUTO_PONG};
    put_f64(&argv[3], (double)max_payload);
    if (call_i32(WSK_EXPORT_OPEN, CELLS(argv), argv, CALL_TRAPPED) != 0) return -WSK_ERR_ENGINE;
    E.used[slot] = true;
    E.used_count++;
    return slot;
}

void wsk_engine_close(int slot)
{
    if (slot < 0 || slot >= CONFIG_WSK_MAX_CONNECTIONS || !E.used[slot]) return;
    E.used[slot] = false;
    E.used_count--;
}

unsigned wsk_engine_flags(int slot)
{
    uint32_t argv[1] = {(uint32_t)slot};
    int32_t state = call_i32(WSK_EXPORT_CONNECTION_STATE, CELLS(argv), argv, CALL_TRAPPED);
    return state < 0 ? 0 : (unsigned)state >> WSK_STATE_FLAGS_SHIFT;
}

uint8_t *wsk_engine_rx(size_t *size)
{
    *size = E.rx_bytes;
    return E.base + E.rx;
}

/* Decode one event record; false when it points outside linear memory (an engine bug: never trust it). */
static bool decode_event(int slot, uint32_t record, wsk_event_t *event)
{
    if (!in_memory(record, WSK_EVENT_BYTES)) return false;
    const uint8_t *field = E.base + record;
    event->type = field[WSK_EVENT_FIELD_TYPE];
    event->opcode = field[WSK_EVENT_FIELD_OPCODE];
    event->flags = field[WSK_EVENT_FIELD_FLAGS];
    event->reason = field[WSK_EVENT_FIELD_REASON];
    event->code = (uint16_t)U32(record + WSK_EVENT_FIELD_CODE);
    uint32_t data = U32(record + WSK_EVENT_FIELD_PTR);
    event->len = U32(record + WSK_EVENT_FIELD_LENGTH);
    event->value = 0;
    if (event->type == WSK_EVENT_TYPE_ERROR) {
        /* An Error event's length field is the number its message names (an opcode, a length byte, a close
           code up to 65535), not bytes in memory. */
        event->value = event->len;
        event->len = 0;
        data = 0;
    }
    if (!in_memory(data, event->len)) {
        WSK_LOGE(TAG, "event data %u+%u outside linear memory (%u bytes)", (unsigned)data, (unsigned)event->len,
                 (unsigned)E.memory_size);
        return false;
    }
    event->data = E.base + data;
    event->frame_length = 0;
    /* Only the last frame of a buffer can end mid-frame, so the slot still describes it. */
    if (event->type == WSK_EVENT_TYPE_DATA && !(event->flags & WSK_DATA_FLAG_FRAME_END))
        memcpy(&event->frame_length, E.base + E.slots + (uint32_t)slot * WSK_SLOT_BYTES + WSK_SLOT_PAYLOAD_LENGTH,
               sizeof(event->frame_length));
    return true;
}

/* Feed `len` bytes already in the receive area; *stopped when on_event asked to stop. */
static wsk_err_t feed(int slot, size_t len, wsk_write_fn write, wsk_event_fn on_event, void *ctx, bool *stopped)
{
    size_t done = 0;
    while (done < len) {
        uint32_t argv[3] = {(uint32_t)slot, E.rx + (uint32_t)done, (uint32_t)(len - done)};
        int32_t count = call_i32(WSK_EXPORT_FEED, CELLS(argv), argv, CALL_TRAPPED);
        if (count < 0 || (uint32_t)count > E.event_capacity) return WSK_ERR_ENGINE;
        uint32_t consumed = U32(E.result + WSK_RESULT_CONSUMED);
        uint32_t out_length = U32(E.result + WSK_RESULT_OUT_LENGTH);
        if (!in_memory(E.out, out_length)) return WSK_ERR_ENGINE;
        if (out_length > 0) {
            wsk_err_t err = write(ctx, E.base + E.out, out_length);
            if (err != WSK_OK) return err;
        }
        refill_entropy();
        for (int32_t i = 0; i < count; i++) {
            wsk_event_t event;
            if (!decode_event(slot, E.events + (uint32_t)i * WSK_EVENT_BYTES, &event)) return WSK_ERR_ENGINE;
            if (!on_event(ctx, &event)) {
                *stopped = true;
                return WSK_OK;
            }
        }
        if (consumed == 0 && count == 0) {
            WSK_LOGE(TAG, "feed made no progress");
            return WSK_ERR_ENGINE;
        }
        done += consumed;
    }
    return WSK_OK;
}

wsk_err_t wsk_engine_feed(int slot, size_t len, wsk_write_fn write, wsk_event_fn on_event, void *ctx)
{
    bool stopped = false;
    if (len > E.rx_bytes) return WSK_ERR_INVALID_SIZE;
    return feed(slot, len, write, on_event, ctx, &stopped);
}

wsk_err_t wsk_engine_feed_bytes(int slot, const uint8_t *bytes, size_t len, wsk_write_fn write,
                                wsk_event_fn on_event, void *ctx)
{
    bool stopped = false;
    for (size_t done = 0; done < len && !stopped;) {
        size_t piece = len - done < E.rx_bytes ? len - done : E.rx_bytes;
        memcpy(E.base + E.rx, bytes + done, piece);
        wsk_err_t err = feed(slot, piece, write, on_event, ctx, &stopped);
        if (err != WSK_OK) return err;
        done += piece;
    }
    return WSK_OK;
}

/* A CallError as the host's error: sizes past the engine's limits are WSK_ERR_INVALID_SIZE, as the public API
   documents; the engine decided them. */
static wsk_err_t call_error(int32_t rc)
{
    if (rc == WSK_CALL_ERROR_ALREADY_CLOSING) return WSK_ERR_INVALID_STATE;
    if (rc == WSK_CALL_ERROR_CONTROL_TOO_LONG || rc == WSK_CALL_ERROR_CLOSE_REASON_TOO_LONG)
        return WSK_ERR_INVALID_SIZE;
    return rc == CALL_TRAPPED ? WSK_ERR_ENGINE : WSK_ERR_INVALID_ARG;
}

/* Stage a control payload or close reason in the last WSK_MAX_CONTROL_PAYLOAD bytes of the transmit area (the
   frame is written at its start) and return its address. A longer one is not copied: the engine judges the
   length before it reads, and refuses it unread. */
static uint32_t stage_tail(const void *bytes, size_t len)
{
    uint32_t src = E.tx + E.tx_bytes - WSK_MAX_CONTROL_PAYLOAD;
    if (len && len <= WSK_MAX_CONTROL_PAYLOAD) memmove(E.base + src, bytes, len);
    return src;
}

wsk_err_t wsk_engine_send_control(int slot, wsk_opcode_t opcode, const void *payload, size_t len,
                                  wsk_write_fn write, void *ctx)
{
    uint32_t src = stage_tail(payload, len);
    refill_entropy();
    uint32_t argv[5] = {(uint32_t)slot, (uint32_t)opcode, src, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len, E.tx};
    int32_t size = tx_written(call_i32(WSK_EXPORT_WRITE_CONTROL, CELLS(argv), argv, CALL_TRAPPED));
    if (size < 0) return call_error(size);
    return write(ctx, E.base + E.tx, (size_t)size);
}

/* One frame's payload after the header the engine wrote at the start of the transmit area: copied behind it
   a transmit area at a time (the first piece rides with the header) and, on a client, masked there. */
static wsk_err_t send_payload(int slot, uint32_t header, const uint8_t *payload, size_t len, wsk_write_fn write,
                              void *ctx)
{
    uint32_t at = E.tx + header;
    size_t sent = 0;
    for (;;) {
        size_t room = E.tx + E.tx_bytes - at;
        uint32_t piece = (uint32_t)(len - sent < room ? len - sent : room);
        if (piece) memmove(E.base + at, payload + sent, piece);
        uint32_t mask_argv[3] = {(uint32_t)slot, at, piece};
        if (piece && !call(WSK_EXPORT_MASK_CHUNK, CELLS(mask_argv), mask_argv)) return WSK_ERR_ENGINE;
        wsk_err_t err = write(ctx, E.base + E.tx, (size_t)(at - E.tx) + piece);
        if (err != WSK_OK) return err;
        sent += piece;
        if (sent == len) return WSK_OK;
        at = E.tx;
    }
}

wsk_err_t wsk_engine_send_message(int slot, wsk_opcode_t opcode, const void *payload, size_t len,
                                  size_t fragment_size, wsk_write_fn write, void *ctx)
{
    /* The engine's message writer frames it: each call writes the next header and says how much follows. */
    uint32_t begin[7] = {(uint32_t)slot, (uint32_t)opcode, 0, 0, 0,
                         fragment_size > UINT32_MAX ? UINT32_MAX : (uint32_t)fragment_size, E.tx};
    put_f64(&begin[2], (double)len);
    refill_entropy();
    int32_t header = call_i32(WSK_EXPORT_BEGIN_MESSAGE, CELLS(begin), begin, CALL_TRAPPED);
    const uint8_t *bytes = payload;
    size_t offset = 0;
    for (;;) {
        if (header < 0) return call_error(header);
        if (header > WSK_MAX_HEADER_BYTES) return WSK_ERR_ENGINE;
        uint64_t n = (uint64_t)U32(E.result + WSK_RESULT_FRAME_LENGTH_HIGH) << 32 |
                     U32(E.result + WSK_RESULT_FRAME_LENGTH);
        if (n > len - offset) return WSK_ERR_ENGINE; /* the engine frames no more than it was given */
        wsk_err_t err = send_payload(slot, (uint32_t)header, bytes ? bytes + offset : NULL, (size_t)n, write, ctx);
        if (err != WSK_OK) return err;
        offset += (size_t)n;
        if (offset >= len) return WSK_OK;
        refill_entropy();
        uint32_t argv[2] = {(uint32_t)slot, E.tx};
        header = call_i32(WSK_EXPORT_NEXT_FRAME, CELLS(argv), argv, CALL_TRAPPED);
    }
}

wsk_err_t wsk_engine_send_close(int slot, uint16_t code, const char *reason, wsk_write_fn write, void *ctx)
{
    size_t reason_len = reason ? strlen(reason) : 0;
    uint32_t src = stage_tail(reason, reason_len);
    refill_entropy();
    uint32_t argv[5] = {(uint32_t)slot, code, src, reason_len > UINT32_MAX ? UINT32_MAX : (uint32_t)reason_len,
                        E.tx};
    int32_t size = tx_written(call_i32(WSK_EXPORT_WRITE_CLOSE, CELLS(argv), argv, CALL_TRAPPED));
    if (size < 0) return call_error(size);
    return write(ctx, E.base + E.tx, (size_t)size);
}

wsk_err_t wsk_engine_parse_request(const uint8_t *head, size_t len, size_t max_head, wsk_request_t *request)
{
    /* The engine parses the head in the receive area: a longer head is refused as too large (431). */
    if (len > E.rx_bytes) len = E.rx_bytes;
    if (max_head >= E.rx_bytes) max_head = E.rx_bytes - 1;
    memmove(E.base + E.rx, head, len);
    uint32_t argv[3] = {E.rx, (uint32_t)len, (uint32_t)max_head};
    int32_t status = call_i32(WSK_EXPORT_PARSE_REQUEST, CELLS(argv), argv, CALL_TRAPPED);
    if (status < 0) return WSK_ERR_ENGINE;
    request->status = status;
    request->head_length = U32(E.handshake + WSK_HANDSHAKE_FIELD_HEAD_END);
    request->target[0] = 0;
    if (status == WSK_HTTP_SWITCHING_PROTOCOLS) {
        uint32_t target_len = U32(E.handshake + WSK_HANDSHAKE_FIELD_TARGET_LENGTH);
        if (target_len >= sizeof(request->target)) target_len = sizeof(request->target) - 1;
        uint32_t target = U32(E.handshake + WSK_HANDSHAKE_FIELD_TARGET_PTR);
        if (!in_memory(target, target_len)) return WSK_ERR_ENGINE;
        memcpy(request->target, E.base + target, target_len);
        request->target[target_len] = 0;
    }
    return WSK_OK;
}

wsk_err_t wsk_engine_build_response(const char *supported, const uint8_t **response, size_t *response_len)
{
    uint32_t protocol = 0, protocol_len = 0;
    uint32_t offered_len = U32(E.handshake + WSK_HANDSHAKE_FIELD_PROTOCOLS_LENGTH);
    size_t supported_len = supported ? strlen(supported) : 0;
    if (offered_len > 0 && supported_len > 0) {
        /* The supported list goes at the end of the transmit area; the response is written at its start. */
        if (supported_len > E.tx_bytes / 2) return WSK_ERR_INVALID_SIZE;
        uint32_t list = E.tx + E.tx_bytes - (uint32_t)supported_len;
        memcpy(E.base + list, supported, supported_len);
        uint32_t offered = U32(E.handshake + WSK_HANDSHAKE_FIELD_PROTOCOLS_PTR);
        uint32_t argv[4] = {offered, offered_len, list, (uint32_t)supported_len};
        int32_t at = call_i32(WSK_EXPORT_SELECT_PROTOCOL, CELLS(argv), argv, CALL_TRAPPED);
        if (at >= 0) {
            protocol = offered + (uint32_t)at;
            protocol_len = U32(E.handshake + WSK_HANDSHAKE_FIELD_SELECTED_LENGTH);
        }
    }
    uint32_t argv[7] = {U32(E.handshake + WSK_HANDSHAKE_FIELD_KEY_PTR),
                        U32(E.handshake + WSK_HANDSHAKE_FIELD_KEY_LENGTH), protocol, protocol_len,
                        0, 0, E.tx};
    int32_t size = tx_written(call_i32(WSK_EXPORT_BUILD_RESPONSE, CELLS(argv), argv, CALL_TRAPPED));
    if (size < 0) return WSK_ERR_ENGINE;
    *response = E.base + E.tx;
    *response_len = (size_t)size;
    return WSK_OK;
}

wsk_err_t wsk_engine_build_rejection(int status, const uint8_t **response, size_t *response_len)
{
    uint32_t argv[2] = {(uint32_t)status, E.tx};
    int32_t size = tx_written(call_i32(WSK_EXPORT_BUILD_REJECTION, CELLS(argv), argv, CALL_TRAPPED));
    if (size < 0) return WSK_ERR_ENGINE;
    *response = E.base + E.tx;
    *response_len = (size_t)size;
    return WSK_OK;
}

/* Copy a string into the receive area at `*at`; its address, or 0 when it does not fit. */
static uint32_t stage(uint32_t *at, const char *text, size_t len)
{
    if (*at + len > E.rx + E.rx_bytes) return 0;
    uint32_t ptr = *at;
    if (len) memcpy(E.base + ptr, text, len);
    *at += (uint32_t)len;
    return ptr;
}

wsk_err_t wsk_engine_build_request(int slot, const char *host, const char *path, const char *protocols,
                                   const char *extra_headers, const uint8_t **request, size_t *request_len)
{
    size_t host_len = strlen(host), path_len = path ? strlen(path) : 0;
    size_t protocols_len = protocols ? strlen(protocols) : 0, extra_len = extra_headers ? strlen(extra_headers) : 0;
    /* The request is fixed text plus these; refuse what could overflow the transmit area. */
    if (host_len + path_len + protocols_len + extra_len + WSK_BUILDER_ROOM_BYTES > E.tx_bytes)
        return WSK_ERR_INVALID_SIZE;
    uint32_t at = E.rx;
    uint32_t h = stage(&at, host, host_len), p = stage(&at, path, path_len);
    uint32_t sp = stage(&at, protocols, protocols_len), x = stage(&at, extra_headers, extra_len);
    if (!h || (path_len && !p) || (protocols_len && !sp) || (extra_len && !x)) return WSK_ERR_INVALID_SIZE;
    refill_entropy();
    uint32_t argv[10] = {(uint32_t)slot, h, (uint32_t)host_len, p, (uint32_t)path_len, sp,
                         (uint32_t)protocols_len, x, (uint32_t)extra_len, E.tx};
    int32_t size = tx_written(call_i32(WSK_EXPORT_BUILD_REQUEST, CELLS(argv), argv, CALL_TRAPPED));
    if (size < 0) return call_error(size);
    refill_entropy();
    *request = E.base + E.tx;
    *request_len = (size_t)size;
    return WSK_OK;
}

int wsk_engine_parse_response(int slot, const uint8_t *head, size_t len, const char *protocols,
                              size_t *head_length, char *protocol, size_t protocol_size)
{
    /* As for requests: a head that does not fit the receive area is refused (HeadTooLarge), not awaited. */
    if (len > E.rx_bytes) len = E.rx_bytes;
    memmove(E.base + E.rx, head, len);
    size_t offered_len = protocols ? strlen(protocols) : 0;
    if (offered_len > E.tx_bytes) offered_len = E.tx_bytes;
    if (offered_len) memcpy(E.base + E.tx, protocols, offered_len);
    uint32_t argv[6] = {(uint32_t)slot, E.rx, (uint32_t)len, E.tx, (uint32_t)offered_len, E.rx_bytes - 1};
    int32_t status = call_i32(WSK_EXPORT_PARSE_RESPONSE, CELLS(argv), argv, CALL_TRAPPED);
    *head_length = U32(E.handshake + WSK_HANDSHAKE_FIELD_HEAD_END);
    if (protocol_size) protocol[0] = 0;
    if (status == WSK_HTTP_SWITCHING_PROTOCOLS && protocol_size) {
        uint32_t n = U32(E.handshake + WSK_HANDSHAKE_FIELD_PROTOCOLS_LENGTH);
        if (n >= protocol_size) n = (uint32_t)protocol_size - 1;
        uint32_t at = U32(E.handshake + WSK_HANDSHAKE_FIELD_PROTOCOLS_PTR);
        if (!in_memory(at, n)) n = 0;
        memcpy(protocol, E.base + at, n);
        protocol[n] = 0;
    }
    return status;
}

bool wsk_engine_unmask(size_t len, uint32_t key, uint32_t offset)
{
    uint32_t argv[4] = {E.rx, (uint32_t)len, key, offset};
    return len <= E.rx_bytes && call(WSK_EXPORT_UNMASK, CELLS(argv), argv);
}

bool wsk_engine_is_utf8(size_t len, uint32_t *valid)
{
    uint32_t argv[2] = {E.rx, (uint32_t)len};
    if (len > E.rx_bytes || !call(WSK_EXPORT_IS_UTF8, CELLS(argv), argv)) return false;
    *valid = argv[0];
    return true;
}

wsk_err_t wsk_get_stats(wsk_stats_t *stats)
{
    if (!stats) return WSK_ERR_INVALID_ARG;
    memset(stats, 0, sizeof(*stats));
    wsk_lock();
    stats->engine_backend = wsk_backend_name;
    stats->host_heap_used = wsk_heap_used();
    stats->slots_total = CONFIG_WSK_MAX_CONNECTIONS;
    wsk_backend_stats(stats);
    if (E.refs > 0) {
        stats->linear_memory_bytes = E.memory_size;
        stats->slots_used = E.used_count;
    }
    wsk_unlock();
    return WSK_OK;
}

const char *wsk_err_to_name(wsk_err_t err)
{
    switch (err) {
    case WSK_OK: return "WSK_OK";
    case WSK_FAIL: return "WSK_FAIL";
    case WSK_ERR_NO_MEM: return "WSK_ERR_NO_MEM";
    case WSK_ERR_INVALID_ARG: return "WSK_ERR_INVALID_ARG";
    case WSK_ERR_INVALID_STATE: return "WSK_ERR_INVALID_STATE";
    case WSK_ERR_INVALID_SIZE: return "WSK_ERR_INVALID_SIZE";
    case WSK_ERR_NOT_FOUND: return "WSK_ERR_NOT_FOUND";
    case WSK_ERR_NOT_SUPPORTED: return "WSK_ERR_NOT_SUPPORTED";
    case WSK_ERR_TIMEOUT: return "WSK_ERR_TIMEOUT";
    case WSK_ERR_ENGINE: return "WSK_ERR_ENGINE";
    case WSK_ERR_SOCKET: return "WSK_ERR_SOCKET";
    case WSK_ERR_HANDSHAKE: return "WSK_ERR_HANDSHAKE";
    case WSK_ERR_NO_SLOT: return "WSK_ERR_NO_SLOT";
    default: return "WSK_ERR_UNKNOWN";
    }
}
