/* libFuzzer target: the supervisor's decoder of worker messages, fed in
 * chunks whose sizes come from the input itself, as a socket delivers them. */
#include <stddef.h>
#include <stdint.h>

#include <cpl_conv.h>

#include "batchwarp_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize);

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize)
{
    BWFrameDecoder *psDecoder = BWFrameDecoderNew();
    size_t nOff = 0;
    while (nOff < nSize)
    {
        /* First byte of each chunk: its length (1..256). */
        size_t nChunk = (size_t)pabyData[nOff] + 1;
        ++nOff;
        if (nChunk > nSize - nOff)
            nChunk = nSize - nOff;
        BWFrameDecoderFeed(psDecoder, pabyData + nOff, nChunk);
        nOff += nChunk;
        for (;;)
        {
            BWMessage sMsg = {0, NULL};
            char *pszError = NULL;
            const int nRet = BWFrameDecoderNext(psDecoder, &sMsg, &pszError);
            if (nRet == 1)
            {
                (void)BWMessageGet(&sMsg, "ID");
                /* Whatever decodes must encode back. */
                unsigned char *pabyOut = NULL;
                size_t nOut = 0;
                char *pszEncodeError = NULL;
                if (BWMessageEncode(sMsg.eType, sMsg.papszFields, &pabyOut, &nOut, &pszEncodeError))
                    CPLFree(pabyOut);
                CPLFree(pszEncodeError);
                BWMessageClear(&sMsg);
                continue;
            }
            CPLFree(pszError);
            if (nRet < 0)
            {
                BWFrameDecoderFree(psDecoder);
                return 0;
            }
            break;
        }
    }
    BWFrameDecoderFree(psDecoder);
    return 0;
}
