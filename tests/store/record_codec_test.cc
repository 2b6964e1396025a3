// The recording's field codec (core/recording/record_format.c): what the
// recorder puts, the reader gets back, and every value the reader accepts
// encodes back to itself, so that deltas between frames stay exact.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>

#include <memscope/recording.h>

#include "core/recording/record_format.h"

TEST(RecordCodec, LifetimesRoundTripToTheNanosecondForDays)
{
	// Exact to the ns up to 2^50 ns (13 days); beyond, the reader keeps
	// the file's integers and never re-encodes a double.
	const uint64_t values[] = { 0, 1, 2, 1000, 1000000001, 86400ull * 1000000000 + 7,
				    (1ull << 50) };
	for (uint64_t v : values)
		EXPECT_EQ(ms_rec_life(ms_rec_life_s(v)), v) << v;
	EXPECT_EQ(ms_rec_life(-1), 0u);
	EXPECT_EQ(ms_rec_life(1e300), MS_REC_MAX_LIFE_NS); // capped, still accepted
	EXPECT_EQ(ms_rec_life(ms_rec_life_s(MS_REC_MAX_LIFE_NS)) <= MS_REC_MAX_LIFE_NS, true);
	std::mt19937_64 rng(12);
	for (int i = 0; i < 100000; i++) {
		uint64_t v = rng() % ((1ull << 50) + 1);
		ASSERT_EQ(ms_rec_life(ms_rec_life_s(v)), v) << v;
	}
}

TEST(RecordCodec, SiteFiguresRoundTripAndLiveIsDerived)
{
	std::mt19937_64 rng(7);
	for (int i = 0; i < 1000; i++) {
		uint64_t v[MS_REC_SITE_FIELDS], again[MS_REC_SITE_FIELDS];
		ms_site_info s;

		for (auto &x : v)
			x = rng() >> (rng() % 64);
		for (int k = 0; k < 3; k++)
			v[MS_REC_SITE_LIFE + k] %= (1ull << 50) + 1;
		v[MS_REC_SITE_KIND] %= 2;
		memset(&s, 0, sizeof(s));
		ASSERT_EQ(ms_rec_site_get(v, &s), 0);
		ms_rec_site_put(again, &s);
		ASSERT_EQ(memcmp(v, again, sizeof(v)), 0) << i;
		EXPECT_EQ(s.live_bytes,
			  s.alloc_bytes > s.free_bytes ? s.alloc_bytes - s.free_bytes : 0u);
	}
	uint64_t bad[MS_REC_SITE_FIELDS] = {};
	ms_site_info s;
	bad[MS_REC_SITE_LIFE + 1] = MS_REC_MAX_LIFE_NS + 1; // beyond what a double keeps
	EXPECT_EQ(ms_rec_site_get(bad, &s), -1);
	uint64_t kind[MS_REC_SITE_FIELDS] = {};
	kind[MS_REC_SITE_KIND] = 2; // neither heap nor mmap
	EXPECT_EQ(ms_rec_site_get(kind, &s), -1);
}

TEST(RecordCodec, HeadKeepsItsFieldsAndDecodesAnyValueToAValidOne)
{
	ms_snapshot s, back;
	uint64_t v[MS_REC_HEAD_FIELDS];
	int exit_status = 0;

	memset(&s, 0, sizeof(s));
	s.time_s = 12.345678;
	s.state = MS_SESSION_EXITED;
	s.live_bytes = 1234;
	s.peak_bytes = 99999;
	s.peak_time_s = 3.5;
	s.total_reallocs = 42;
	s.cpu_percent = 87.26;
	s.ages_scanned = 1;
	s.thread_count = 9;
	s.memscope_cpu_percent = 0.04;
	ms_rec_head_put(v, &s, 3);
	EXPECT_EQ(v[MS_REC_HEAD_TIME], 12345678u);
	EXPECT_EQ(v[MS_REC_HEAD_EXIT], 4u);
	EXPECT_EQ(v[MS_REC_HEAD_CPU], 873u);
	EXPECT_EQ(v[MS_REC_HEAD_OWN_CPU], 0u);
	EXPECT_EQ(v[MS_REC_HEAD_REALLOCS], 42u);
	memset(&back, 0, sizeof(back));
	ms_rec_head_get(v, &back, &exit_status);
	EXPECT_EQ(exit_status, 3);
	EXPECT_EQ(back.state, MS_SESSION_EXITED);
	EXPECT_EQ(back.live_bytes, 1234u);
	EXPECT_EQ(back.peak_bytes, 99999u);
	EXPECT_DOUBLE_EQ(back.peak_time_s, 3.5);
	EXPECT_DOUBLE_EQ(back.cpu_percent, 87.3);
	EXPECT_EQ(back.ages_scanned, 1);
	EXPECT_EQ(back.thread_count, 9u);

	ms_rec_head_put(v, &s, -1);
	EXPECT_EQ(v[MS_REC_HEAD_EXIT], 0u);
	v[MS_REC_HEAD_STATE] = 1000;    // no such state
	v[MS_REC_HEAD_EXIT] = 5000;     // no such status
	v[MS_REC_HEAD_AGES_SCANNED] = 7;
	ms_rec_head_get(v, &back, &exit_status);
	EXPECT_EQ(back.state, MS_SESSION_GONE);
	EXPECT_EQ(exit_status, 255);
	EXPECT_EQ(back.ages_scanned, 1);
}

TEST(RecordCodec, ThreadsAndNotes)
{
	ms_thread_info t, tb;
	ms_thread_view view = { 'R', 12.3456, 1000.4, 2.6 }, vb;
	uint64_t v[MS_REC_THREAD_FIELDS];

	memset(&t, 0, sizeof(t));
	t.exited = 1;
	t.allocs = 10;
	t.live_bytes = 77;
	ms_rec_thread_put(v, &t, &view);
	EXPECT_EQ(v[MS_REC_THREAD_STATE], static_cast<uint64_t>('R'));
	EXPECT_EQ(v[MS_REC_THREAD_CPU], 12346u);
	EXPECT_EQ(v[MS_REC_THREAD_ALLOC_RATE], 1000u);
	EXPECT_EQ(v[MS_REC_THREAD_FREE_RATE], 3u);
	memset(&tb, 0, sizeof(tb));
	ms_rec_thread_get(v, &tb, &vb);
	EXPECT_EQ(tb.exited, 1);
	EXPECT_EQ(tb.allocs, 10u);
	EXPECT_EQ(tb.live_bytes, 77u);
	EXPECT_EQ(vb.state, 'R');
	EXPECT_DOUBLE_EQ(vb.cpu_percent, 12.346);
	ms_rec_thread_put(v, &t, nullptr); // not on screen
	EXPECT_EQ(v[MS_REC_THREAD_STATE], static_cast<uint64_t>('-'));
	v[MS_REC_THREAD_STATE] = 7; // a control character from a hostile file
	ms_rec_thread_get(v, &tb, &vb);
	EXPECT_EQ(vb.state, '?');

	ms_note_info n, nb;
	uint64_t w[MS_REC_NOTE_FIELDS];
	memset(&n, 0, sizeof(n));
	n.ptr = 0x7f0012345678;
	n.size = 4096;
	n.live = 1;
	n.borrows = 3;
	n.lent = 1;
	n.tracked_s = 1.5;
	n.lifetime_s = 0.25;
	ms_rec_note_put(w, &n);
	memset(&nb, 0, sizeof(nb));
	ms_rec_note_get(w, &nb);
	EXPECT_EQ(nb.ptr, n.ptr);
	EXPECT_EQ(nb.size, 4096u);
	EXPECT_EQ(nb.live, 1);
	EXPECT_EQ(nb.borrows, 3u);
	EXPECT_EQ(nb.lent, 1u);
	EXPECT_DOUBLE_EQ(nb.tracked_s, 1.5);
	EXPECT_DOUBLE_EQ(nb.lifetime_s, 0.25);
}
