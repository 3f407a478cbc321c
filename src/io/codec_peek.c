/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event time of an encoded input record, for merging inputs in event
 * time before they are applied. It decodes (and so validates) the record;
 * the strings it leaves in the codec are overwritten by the next decode.
 */
#include "io/codec.h"

lvc_err_t lvc_codec_peek_ts(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                            int64_t *ts_us)
{
	char why[256];
	lvc_err_t err;

	switch (type) {
	case LVC_REC_TRADE: {
		lvc_trade_t t;

		err = lvc_codec_decode_trade(codec, buf, len, &t, why, sizeof(why));
		*ts_us = err == LVC_OK ? t.ts_us : 0;
		return err;
	}
	case LVC_REC_PRICE: {
		lvc_price_t p;

		err = lvc_codec_decode_price(codec, buf, len, &p, why, sizeof(why));
		*ts_us = err == LVC_OK ? p.ts_us : 0;
		return err;
	}
	case LVC_REC_POSITION: {
		lvc_position_t p;

		err = lvc_codec_decode_position(codec, buf, len, &p, why, sizeof(why));
		*ts_us = err == LVC_OK ? p.ts_us : 0;
		return err;
	}
	case LVC_REC_BALANCE: {
		lvc_balance_t b;

		err = lvc_codec_decode_balance(codec, buf, len, &b, why, sizeof(why));
		*ts_us = err == LVC_OK ? b.ts_us : 0;
		return err;
	}
	default:
		return LVC_ERR_INVALID;
	}
}
