using Rnn.Simd.Audio;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// <see cref="SpeechSegmenter"/> on synthetic probability sequences. The expected segments are worked out by hand from
/// the rules (Silero's defaults at 16 kHz, 512-sample frames: threshold 0.5, negative threshold 0.35, min speech 4000
/// samples, min silence 1600, pad 480), the arithmetic in each test's comment. Then the streaming events against
/// <see cref="ReferenceSegments"/>, a literal plain-loop reading of get_speech_timestamps' rules, on random sequences.
/// </summary>
[Trait("Category", "Audio")]
public sealed class SpeechSegmenterTests
{
    private const int Rate = 16000, W = 512;

    /// <summary>Runs of (probability, frames).</summary>
    private static float[] Runs(params (float P, int Frames)[] runs) => [.. runs.SelectMany(r => Enumerable.Repeat(r.P, r.Frames))];

    private static (long, long)[] Segments(float[] p, long total, SpeechSegmenterOptions? options = null) =>
        [.. SpeechSegmenter.Segment(p, total, Rate, W, options).Select(s => (s.Start, s.End))];

    [Fact]
    public void OneUtterance_IsPaddedBy30Ms_AndEndsAtTheFirstSilentFrame()
    {
        // Frames 10..29 speech: start 10·512 = 5120. Frame 30 is the first silent one (15360); at frame 34,
        // 34·512 − 15360 = 2048 ≥ 1600 ends it at 15360; 10240 > 4000 keeps it. Padded: 5120 − 480, 15360 + 480.
        float[] p = Runs((0f, 10), (0.9f, 20), (0f, 10));
        Assert.Equal([(4640L, 15840L)], Segments(p, 40 * W));
        SpeechSegment s = SpeechSegmenter.Segment(p, 40 * W, Rate, W)[0];
        Assert.Equal(0.29, s.StartSeconds, 12);
        Assert.Equal(0.99, s.EndSeconds, 12);
    }

    [Fact]
    public void FourSilentFrames_DoNotEndSpeech_FiveDo()
    {
        // Four frames: 3·512 = 1536 < 1600 when speech resumes, so one segment (5120 … 40 frames later).
        // Speech 10..19, silence 20..23, speech 24..33, silence 34..43: ends at 34·512 = 17408.
        Assert.Equal([(4640L, 17888L)], Segments(Runs((0f, 10), (0.9f, 10), (0f, 4), (0.9f, 10), (0f, 10)), 44 * W));

        // Five frames end the first at 20·512 = 10240 (at frame 24: 2048 ≥ 1600), and 10240 − 5120 = 5120 > 4000 keeps it;
        // the second starts at 25·512 = 12800 and ends at 35·512 = 17920. Gap 2560 ≥ 960: each side gets 480.
        Assert.Equal([(4640L, 10720L), (12320L, 18400L)], Segments(Runs((0f, 10), (0.9f, 10), (0f, 5), (0.9f, 10), (0f, 10)), 45 * W));
    }

    [Fact]
    public void BetweenTheThresholds_NothingStartsOrEnds()
    {
        // 0.45 never starts speech; in speech, 0.4 neither starts the silence nor clears it. Speech from frame 3
        // (1536); frame 13 (0.1) starts silence at 6656; frames 14..19 at 0.4 change nothing; frame 20 (0.1):
        // 20·512 − 6656 = 3584 ≥ 1600 ends it at 6656. 6656 − 1536 = 5120 > 4000. Padded 1056 … 7136.
        float[] p = Runs((0.45f, 3), (0.9f, 10), (0.1f, 1), (0.4f, 6), (0.1f, 1), (0.45f, 5));
        Assert.Equal([(1056L, 7136L)], Segments(p, p.Length * W));
    }

    [Fact]
    public void MinSpeech_IsStrict_AndShortSegmentsDisappear()
    {
        // Min speech 64 ms = 1024 samples = two frames exactly: two frames of speech (length 1024) are dropped,
        // three (1536) kept. Min silence 0: the first silent frame ends speech. Pad 0.
        var options = new SpeechSegmenterOptions { MinSpeechDurationMs = 64, MinSilenceDurationMs = 0, SpeechPadMs = 0 };
        Assert.Empty(Segments(Runs((0f, 2), (0.9f, 2), (0f, 3)), 7 * W, options));
        Assert.Equal([(1024L, 2560L)], Segments(Runs((0f, 2), (0.9f, 3), (0f, 3)), 8 * W, options));

        // With the defaults, 7 frames (3584 ≤ 4000) vanish, the 20-frame one after them stays.
        // Speech 3..9 dropped; speech 20..39 (10240 … 20480, silence from 40 ends it at frame 44).
        Assert.Equal([(9760L, 20960L)], Segments(Runs((0f, 3), (0.9f, 7), (0f, 10), (0.9f, 20), (0f, 5)), 45 * W));
    }

    [Fact]
    public void CloseSegments_ShareTheGap_InTheMiddle()
    {
        // Pad 100 ms = 1600 (so 2·pad = 3200), min silence 100 ms = 1600. Speech 5..16 (2560), silence 17..21:
        // ends at 17·512 = 8704. Speech 22..33 (11264), silence 34..: ends at 17408 (at frame 38). Both 6144 long.
        // First start 2560 − 1600 = 960. Gap 11264 − 8704 = 2560 < 3200: each side takes 1280 → 9984 and 9984.
        // Last end 17408 + 1600 = 19008 (the signal has 39·512 + 100 = 20068 samples).
        var options = new SpeechSegmenterOptions { SpeechPadMs = 100 };
        float[] p = Runs((0f, 5), (0.9f, 12), (0.1f, 5), (0.9f, 12), (0f, 6));
        Assert.Equal([(960L, 9984L), (9984L, 19008L)], Segments(p, (39 * W) + 100, options));
    }

    [Fact]
    public void AtTheEnd_OpenSpeech_EndsAtTheSignalsLength()
    {
        // Speech from frame 4 (2048) to the end (15·512 + 300 = 7980): 5932 > 4000 kept, ends at 7980 (the pad stops there).
        Assert.Equal([(1568L, 7980L)], Segments(Runs((0f, 4), (0.9f, 12)), (15 * W) + 300));

        // Too short at the end: 11·512 + 1 − 2048 = 3585 ≤ 4000.
        Assert.Empty(Segments(Runs((0f, 4), (0.9f, 8)), (11 * W) + 1));

        // Silence had begun (at 11·512 = 5632) but not lasted: the segment still runs to the end, 7168 (Silero's rule).
        Assert.Equal([(32L, 7168L)], Segments(Runs((0f, 1), (0.9f, 10), (0f, 3)), 14 * W));

        // Speech from sample 0: the pad stops at 0. Ends at 10·512 = 5120 (frame 14), 5120 > 4000; 5120 + 480.
        Assert.Equal([(0L, 5600L)], Segments(Runs((0.9f, 10), (0f, 5)), 15 * W));
    }

    [Fact]
    public void TheThresholds_AreOptions()
    {
        // Threshold 0.8 (negative 0.65 by default): 0.7 is not speech, and in speech 0.7 is not silence.
        var options = new SpeechSegmenterOptions { Threshold = 0.8 };
        Assert.Equal(0.65, options.EffectiveNegativeThreshold, 12);
        Assert.Empty(Segments(Runs((0f, 2), (0.7f, 20), (0f, 5)), 27 * W, options));
        Assert.Equal([(544L, 15840L)], Segments(Runs((0f, 2), (0.9f, 10), (0.7f, 18), (0f, 5)), 35 * W, options));

        // An explicit negative threshold of 0.05: 0.1 no longer counts as silence.
        options = new SpeechSegmenterOptions { NegativeThreshold = 0.05 };
        Assert.Equal([(544L, 15840L)], Segments(Runs((0f, 2), (0.9f, 10), (0.1f, 18), (0f, 5)), 35 * W, options));
        Assert.Equal(0.01, new SpeechSegmenterOptions { Threshold = 0.1 }.EffectiveNegativeThreshold, 12);
    }

    [Fact]
    public void Events_ComeInTheFrameThatDecidesThem()
    {
        // The first test's sequence: the start is sure once 512·i + 1 − 5120 > 4000 (frame 18); the end at frame
        // 34, when the silence has lasted, and nothing can start within 2·pad of it.
        var segmenter = new SpeechSegmenter(Rate, W);
        var seen = new List<(int Frame, SpeechEvent Event)>();
        float[] p = Runs((0f, 10), (0.9f, 20), (0f, 10));
        for (int i = 0; i < p.Length; i++)
        {
            segmenter.Push(p[i]);
            while (segmenter.TryRead(out SpeechEvent e))
            {
                seen.Add((i, e));
            }
        }

        segmenter.Finish(p.Length * W);
        Assert.False(segmenter.TryRead(out _));
        Assert.Equal([(18, new SpeechEvent(SpeechEventKind.Start, 4640, Rate)), (34, new SpeechEvent(SpeechEventKind.End, 15840, Rate))], seen);

        // The close segments: the first start is sure at frame 13 (512·13 + 1 − 2560 > 4000); the first end waits for
        // the second start (frame 30: 512·30 + 1 − 11264 > 4000),
        // which decides the split; the second end comes at Finish.
        segmenter = new SpeechSegmenter(Rate, W, new SpeechSegmenterOptions { SpeechPadMs = 100 });
        seen.Clear();
        p = Runs((0f, 5), (0.9f, 12), (0.1f, 5), (0.9f, 12), (0f, 6));
        for (int i = 0; i < p.Length; i++)
        {
            segmenter.Push(p[i]);
            while (segmenter.TryRead(out SpeechEvent e))
            {
                seen.Add((i, e));
            }
        }

        segmenter.Finish((39 * W) + 100);
        while (segmenter.TryRead(out SpeechEvent e))
        {
            seen.Add((-1, e));
        }

        Assert.Equal(
            [(13, new SpeechEvent(SpeechEventKind.Start, 960, Rate)), (30, new SpeechEvent(SpeechEventKind.End, 9984, Rate)),
             (30, new SpeechEvent(SpeechEventKind.Start, 9984, Rate)), (-1, new SpeechEvent(SpeechEventKind.End, 19008, Rate))],
            seen);
    }

    [Fact]
    public void Streaming_GivesTheReferenceSegments_OnRandomSequences()
    {
        var random = new Random(11);
        float[] levels = [0f, 0.1f, 0.34f, 0.35f, 0.4f, 0.49f, 0.5f, 0.7f, 1f];
        int withTwoOrMore = 0, withCloseGaps = 0;
        for (int trial = 0; trial < 2000; trial++)
        {
            int rate = random.Next(2) == 0 ? 16000 : 8000, w = rate == 16000 ? 512 : 256;
            var options = new SpeechSegmenterOptions
            {
                MinSpeechDurationMs = random.Next(0, 400),
                MinSilenceDurationMs = random.Next(0, 300),
                SpeechPadMs = random.Next(0, 200),
                NegativeThreshold = random.Next(3) == 0 ? 0.2 : null,
            };
            var p = new List<float>();
            int runs = random.Next(0, 12);
            for (int r = 0; r < runs; r++)
            {
                p.AddRange(Enumerable.Repeat(levels[random.Next(levels.Length)], random.Next(1, 15)));
            }

            long total = p.Count == 0 ? 0 : ((p.Count - 1) * (long)w) + random.Next(1, w + 1);
            List<(long, long)> expected = ReferenceSegments([.. p], total, rate, w, options);
            withTwoOrMore += expected.Count >= 2 ? 1 : 0;
            withCloseGaps += expected.Zip(expected.Skip(1)).Any(pair => pair.First.Item2 == pair.Second.Item1) ? 1 : 0;

            // Events read after every frame, and (to exercise the queue's growth) only at the end.
            foreach (bool drainEachFrame in new[] { true, false })
            {
                var segmenter = new SpeechSegmenter(rate, w, options);
                var events = new List<SpeechEvent>();
                foreach (float q in p)
                {
                    segmenter.Push(q);
                    while (drainEachFrame && segmenter.TryRead(out SpeechEvent e))
                    {
                        events.Add(e);
                    }
                }

                segmenter.Finish(total);
                while (segmenter.TryRead(out SpeechEvent e))
                {
                    events.Add(e);
                }

                Assert.Equal(2 * expected.Count, events.Count);
                for (int i = 0; i < events.Count; i++)
                {
                    Assert.Equal(i % 2 == 0 ? SpeechEventKind.Start : SpeechEventKind.End, events[i].Kind);
                }

                List<(long, long)> paired = [.. Enumerable.Range(0, expected.Count).Select(i => (events[2 * i].Sample, events[(2 * i) + 1].Sample))];
                Assert.True(expected.SequenceEqual(paired), $"trial {trial}: expected {string.Join(" ", expected)}, streamed {string.Join(" ", paired)}");
            }

            Assert.Equal(expected, SpeechSegmenter.Segment([.. p], total, rate, w, options).Select(s => (s.Start, s.End)));
        }

        // The sequences reach the interesting cases: several segments, and gaps split in the middle.
        Assert.True(withTwoOrMore > 200 && withCloseGaps > 20, $"{withTwoOrMore} trials with two or more segments, {withCloseGaps} with a split gap");
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        var segmenter = new SpeechSegmenter(Rate, W);
        Assert.Equal("probability", Assert.Throws<ArgumentOutOfRangeException>(() => segmenter.Push(float.NaN)).ParamName);
        Assert.Equal("probability", Assert.Throws<ArgumentOutOfRangeException>(() => segmenter.Push(1.5f)).ParamName);
        segmenter.Push(0.9f);
        segmenter.Push(0.9f);
        Assert.Contains("cover 513 … 1024 samples; 512 given", Assert.Throws<ArgumentOutOfRangeException>(() => segmenter.Finish(512)).Message, StringComparison.Ordinal);
        segmenter.Finish(1024);
        Assert.Throws<InvalidOperationException>(() => segmenter.Push(0.5f));
        segmenter.Reset();
        segmenter.Push(0.5f);
        Assert.Equal(1, segmenter.Frames);

        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => new SpeechSegmenter(Rate, W, new SpeechSegmenterOptions { Threshold = 1.5 })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => new SpeechSegmenter(Rate, W, new SpeechSegmenterOptions { NegativeThreshold = 0.6 })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => new SpeechSegmenter(Rate, W, new SpeechSegmenterOptions { SpeechPadMs = -1 })).ParamName);
        Assert.Equal("frameSamples", Assert.Throws<ArgumentOutOfRangeException>(() => new SpeechSegmenter(Rate, 0)).ParamName);
        Assert.Equal("sampleRate", Assert.Throws<ArgumentOutOfRangeException>(() => new SpeechSegmenter(-1, W)).ParamName);
    }

    /// <summary>
    /// get_speech_timestamps' rules (no maximum segment length), read literally: one pass over the probabilities
    /// collecting raw segments, then one pass padding them.
    /// </summary>
    internal static List<(long Start, long End)> ReferenceSegments(float[] probabilities, long total, int rate, int w, SpeechSegmenterOptions o)
    {
        double threshold = o.Threshold, negative = o.NegativeThreshold ?? Math.Max(o.Threshold - 0.15, 0.01);
        double minSpeech = rate * o.MinSpeechDurationMs / 1000.0, minSilence = rate * o.MinSilenceDurationMs / 1000.0, pad = rate * o.SpeechPadMs / 1000.0;
        var raw = new List<(long Start, long End)>();
        bool triggered = false;
        long start = 0, tempEnd = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            double p = probabilities[i];
            long here = (long)w * i;
            if (p >= threshold && tempEnd != 0)
            {
                tempEnd = 0;
            }

            if (p >= threshold && !triggered)
            {
                triggered = true;
                start = here;
                continue;
            }

            if (p < negative && triggered)
            {
                if (tempEnd == 0)
                {
                    tempEnd = here;
                }

                if (here - tempEnd < minSilence)
                {
                    continue;
                }

                if (tempEnd - start > minSpeech)
                {
                    raw.Add((start, tempEnd));
                }

                tempEnd = 0;
                triggered = false;
            }
        }

        if (triggered && total - start > minSpeech)
        {
            raw.Add((start, total));
        }

        var padded = raw.Select(s => (Start: s.Start, End: s.End)).ToList();
        for (int i = 0; i < raw.Count; i++)
        {
            if (i == 0)
            {
                padded[i] = (Math.Max(0, (long)(raw[i].Start - pad)), padded[i].End);
            }

            if (i < raw.Count - 1)
            {
                long gap = raw[i + 1].Start - raw[i].End;
                padded[i] = gap < 2 * pad ? (padded[i].Start, raw[i].End + (gap / 2)) : (padded[i].Start, (long)Math.Min(total, raw[i].End + pad));
                padded[i + 1] = gap < 2 * pad ? (Math.Max(0, raw[i + 1].Start - (gap / 2)), padded[i + 1].End) : (Math.Max(0, (long)(raw[i + 1].Start - pad)), padded[i + 1].End);
            }
            else
            {
                padded[i] = (padded[i].Start, (long)Math.Min(total, raw[i].End + pad));
            }
        }

        return padded;
    }
}
