/*
 * The framed protocol between the supervisor and its workers.
 *
 * Every message is an 8-byte header followed by a payload:
 *   bytes 0-1  magic "BW"
 *   byte  2    protocol version (1)
 *   byte  3    message type (BWMessageType)
 *   bytes 4-7  payload length, unsigned 32-bit little-endian
 * The payload is a sequence of NUL-terminated "KEY=VALUE" strings; a key may
 * repeat (lists such as WARP_ARG or ERROR). Paths and GDAL messages cannot
 * contain NUL, so no escaping is needed.
 *
 * Supervisor to worker: INIT once (config options and gdalwarp arguments),
 * then TASK per source; the end of the stream (or QUIT) lets the worker go.
 * Worker to supervisor: READY once INIT is applied, then one RESULT per
 * TASK, in order. A worker reads its next TASK only once it has replied to
 * the current one, so the supervisor may send a TASK ahead, to wait in the
 * channel while the current one runs: it starts when the RESULT before it
 * is sent.
 */
#ifndef BATCHWARP_PROTOCOL_H_INCLUDED
#define BATCHWARP_PROTOCOL_H_INCLUDED

#include <stddef.h>

#include <cpl_port.h>

#define BW_PROTOCOL_VERSION 1
#define BW_HEADER_SIZE 8
/* Far above any real message; a larger length means a corrupt stream. */
#define BW_MAX_PAYLOAD (16u * 1024u * 1024u)
/* How many bytes one read() of a worker channel takes at most. */
#define BW_READ_CHUNK_BYTES 65536

typedef enum
{
    BW_MSG_INIT = 1,
    BW_MSG_READY = 2,
    BW_MSG_TASK = 3,
    BW_MSG_RESULT = 4,
    BW_MSG_QUIT = 5
} BWMessageType;

typedef struct
{
    BWMessageType eType;
    char **papszFields; /* CSL of KEY=VALUE, owned by the message */
} BWMessage;

void BWMessageClear(BWMessage *psMsg);

/* Encodes into a new buffer (CPLFree it). Returns FALSE with *ppszError set
 * when the message cannot be framed. */
int BWMessageEncode(BWMessageType eType, CSLConstList papszFields, unsigned char **ppabyOut,
                    size_t *pnOutLen, char **ppszError);

/* Writes one whole message, retrying on EINTR and short writes. */
int BWMessageWrite(int fd, BWMessageType eType, CSLConstList papszFields, char **ppszError);

/* Accumulates bytes from a stream and cuts them into messages. */
typedef struct BWFrameDecoder BWFrameDecoder;

BWFrameDecoder *BWFrameDecoderNew(void);
void BWFrameDecoderFree(BWFrameDecoder *psDecoder);
void BWFrameDecoderFeed(BWFrameDecoder *psDecoder, const void *pData, size_t nLen);
/* Returns 1 and fills *psMsg when a whole message is buffered, 0 when more
 * bytes are needed, -1 with *ppszError on a corrupt stream. */
int BWFrameDecoderNext(BWFrameDecoder *psDecoder, BWMessage *psMsg, char **ppszError);
/* Bytes buffered but not yet returned as a message. */
size_t BWFrameDecoderPending(const BWFrameDecoder *psDecoder);

/* Blocking read of the next message from fd. Returns 1 on a message, 0 on a
 * clean end of stream, -1 with *ppszError otherwise. */
int BWMessageRead(int fd, BWFrameDecoder *psDecoder, BWMessage *psMsg, char **ppszError);

/* Value of a field (first occurrence), or NULL. */
const char *BWMessageGet(const BWMessage *psMsg, const char *pszKey);

/* Values of every occurrence of a field, in order (CSLDestroy them), or
 * NULL when there is none. */
char **BWMessageGetAll(const BWMessage *psMsg, const char *pszKey);

/* Values of every occurrence of a field, one per line, whole whatever their
 * length (CPLFree it), or NULL when there is none. */
char *BWMessageJoin(const BWMessage *psMsg, const char *pszKey);

#endif
