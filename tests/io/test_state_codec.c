/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StateSnapshot values (io/state_codec.h): every kind round-trips with its
 * bytes, the encoding is the plain Avro binary of schemas/StateSnapshot.avsc
 * (checked against a hand-made encoding), and bytes that are not a
 * snapshot are refused with a reason instead of being read past their end.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "io/state_codec.h"

Test(state_codec, round_trips_every_kind_with_its_bytes)
{
	char why[256];
	lvc_state_codec_t *sc = lvc_state_codec_new(why, sizeof(why));
	uint8_t data[300];

	cr_assert_not_null(sc, "%s", why);
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7);
	}
	for (int k = 0; k < LVC_STATE__COUNT; k++) {
		lvc_state_rec_t in = { (lvc_state_kind_t)k, 1,    "0123456789abcdef",
			               "trades:3:17",       data, (size_t)(k * 100) };
		lvc_state_rec_t out;
		const void *buf;
		size_t len;
		uint8_t copy[1024];

		cr_assert_eq(lvc_state_encode(sc, &in, &buf, &len), LVC_OK);
		cr_assert_lt(len, sizeof(copy));
		memcpy(copy, buf, len);
		cr_assert_eq(lvc_state_decode(sc, copy, len, &out, why, sizeof(why)), LVC_OK, "%s",
		             why);
		cr_assert_eq(out.kind, in.kind);
		cr_assert_eq(out.format_version, 1);
		cr_assert_str_eq(out.config_id, "0123456789abcdef");
		cr_assert_str_eq(out.source, "trades:3:17");
		cr_assert_eq(out.data_len, in.data_len);
		cr_assert_eq(memcmp(out.data, data, in.data_len), 0);
	}
	lvc_state_codec_destroy(sc);
}

Test(state_codec, writes_the_plain_avro_binary_of_the_schema)
{
	char why[256];
	lvc_state_codec_t *sc = lvc_state_codec_new(why, sizeof(why));
	lvc_state_rec_t in = { LVC_STATE_POSITION, 1, "ab", "t:0:5", "\x01\x02", 2 };
	/* enum 1, int 1, string "ab", string "t:0:5", bytes 01 02 (zigzag
	 * varints: 1 -> 0x02, 2 -> 0x04, 5 -> 0x0a). */
	const uint8_t want[] = { 0x02, 0x02, 0x04, 'a', 'b',  0x0a, 't',
		                 ':',  '0',  ':',  '5', 0x04, 0x01, 0x02 };
	const void *buf;
	size_t len;

	cr_assert_not_null(sc, "%s", why);
	cr_assert_eq(lvc_state_encode(sc, &in, &buf, &len), LVC_OK);
	cr_assert_eq(len, sizeof(want));
	cr_assert_eq(memcmp(buf, want, len), 0);
	lvc_state_codec_destroy(sc);
}

Test(state_codec, refuses_bytes_that_are_not_a_snapshot)
{
	char why[256];
	lvc_state_codec_t *sc = lvc_state_codec_new(why, sizeof(why));
	lvc_state_rec_t out;
	/* a bytes length of 100 with two bytes present */
	const uint8_t short_data[] = { 0x02, 0x02, 0x00, 0x00, 0xc8, 0x01, 0x01, 0x02 };
	/* enum index 7 */
	const uint8_t bad_enum[] = { 0x0e, 0x02, 0x00, 0x00, 0x00 };
	const uint8_t trailing[] = { 0x00, 0x02, 0x00, 0x00, 0x00, 0x00 };

	cr_assert_not_null(sc, "%s", why);
	cr_assert_eq(lvc_state_decode(sc, short_data, sizeof(short_data), &out, why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert_eq(lvc_state_decode(sc, bad_enum, sizeof(bad_enum), &out, why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert_eq(lvc_state_decode(sc, trailing, sizeof(trailing), &out, why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert_eq(lvc_state_decode(sc, NULL, 0, &out, why, sizeof(why)), LVC_ERR_DECODE);
	cr_assert_eq(lvc_state_decode(sc, trailing, sizeof(trailing) - 1, &out, why, sizeof(why)),
	             LVC_OK, "the same bytes without the trailing one are a snapshot");
	lvc_state_codec_destroy(sc);
}
