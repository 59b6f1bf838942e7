using Rnn.Simd.Internal;

namespace Rnn.Simd.Audio;

/// <summary>
/// Turns a stream of per-frame speech probabilities into segment start and end events, by the rules of Silero VAD's
/// <c>get_speech_timestamps</c> (without its maximum segment length): the events of a whole signal pair up into
/// exactly the segments that function returns for the same probabilities. One instance per stream; allocates
/// nothing per frame.
/// </summary>
/// <remarks>
/// <para>Frame <c>i</c> covers samples [W·i, W·i + W) (W = <see cref="FrameSamples"/>). The rules: a frame with
/// probability ≥ threshold starts a candidate at W·i; in a candidate, the first of a run of frames below the negative
/// threshold marks a possible end at W·j, cleared by the next frame at or above the threshold; once the run has lasted
/// min-silence samples (a frame at W·k with W·k − W·j ≥ min-silence) the candidate ends at W·j, and is kept if it is
/// longer than min-speech. At the end of the signal an open candidate ends at the signal's length (kept if longer
/// than min-speech). Kept segments are then padded: the first start by pad (not below 0), the last end by pad (not
/// past the signal); between two segments, a gap shorter than 2·pad is split in the middle (each side takes
/// ⌊gap / 2⌋), a longer one gives each side pad.</para>
/// <para>A start is reported once the candidate is sure to be kept (it has lasted longer than min-speech), an end
/// once its padding is known (the next segment cannot start within 2·pad, or it has been reported): with the
/// defaults, a start comes 250 ms after speech begins and an end 100 ms after it stops, in the frame that decides it.
/// </para>
/// </remarks>
public sealed class SpeechSegmenter
{
    private const long None = -1;

    private readonly double _threshold, _negativeThreshold, _minSpeech, _minSilence, _pad;
    private SpeechEvent[] _queue = new SpeechEvent[4];   // a ring; a frame decides at most three events
    private int _queueHead, _queueCount;

    private long _frames;          // frames pushed
    private bool _triggered;       // in a candidate
    private bool _confirmed;       // the candidate's start has been reported
    private long _start;           // the candidate's raw start
    private long _possibleEnd;     // the first sample of the candidate's current run of silence, or None
    private long _pendingEnd;      // the raw end of the last kept segment while its padded end is unknown, or None
    private bool _finished;

    /// <summary>A segmenter for frames of <paramref name="frameSamples"/> samples at <paramref name="sampleRate"/> Hz.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or an option out of its range.</exception>
    public SpeechSegmenter(int sampleRate, int frameSamples, SpeechSegmenterOptions? options = null)
    {
        options ??= new SpeechSegmenterOptions();
        if (sampleRate <= 0)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(sampleRate), $"The sample rate must be positive, was {sampleRate}.");
        }

        if (frameSamples <= 0)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(frameSamples), $"The frame size must be positive, was {frameSamples}.");
        }

        if (!(options.Threshold is >= 0 and <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"Threshold must be in [0, 1], was {options.Threshold}.");
        }

        double negative = options.EffectiveNegativeThreshold;
        if (options.NegativeThreshold is { } n && !(n >= 0 && n <= options.Threshold))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"NegativeThreshold must be in [0, Threshold = {options.Threshold}], was {n}.");
        }

        if (options.MinSpeechDurationMs < 0 || options.MinSilenceDurationMs < 0 || options.SpeechPadMs < 0)
        {
            ThrowHelper.ArgumentOutOfRange(
                nameof(options),
                $"Durations must be non-negative, were MinSpeechDurationMs = {options.MinSpeechDurationMs}, MinSilenceDurationMs = {options.MinSilenceDurationMs}, SpeechPadMs = {options.SpeechPadMs}.");
        }

        SampleRate = sampleRate;
        FrameSamples = frameSamples;
        Options = options;
        _threshold = options.Threshold;
        _negativeThreshold = negative;
        _minSpeech = sampleRate * (double)options.MinSpeechDurationMs / 1000;
        _minSilence = sampleRate * (double)options.MinSilenceDurationMs / 1000;
        _pad = sampleRate * (double)options.SpeechPadMs / 1000;
        Reset();
    }

    /// <summary>Samples per second of the signal.</summary>
    public int SampleRate { get; }

    /// <summary>Samples per frame: one probability per this many samples.</summary>
    public int FrameSamples { get; }

    /// <summary>The rules in use.</summary>
    public SpeechSegmenterOptions Options { get; }

    /// <summary>Frames pushed since the start (or the last <see cref="Reset"/>).</summary>
    public long Frames => _frames;

    /// <summary>Forgets everything: a new signal starts at sample 0.</summary>
    public void Reset()
    {
        _queueHead = _queueCount = 0;
        _frames = 0;
        _triggered = _confirmed = _finished = false;
        _start = 0;
        _possibleEnd = _pendingEnd = None;
    }

    /// <summary>Takes the next frame's speech probability; the events it decides are then read with <see cref="TryRead"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="probability"/> is not in [0, 1].</exception>
    /// <exception cref="InvalidOperationException">The signal was finished (<see cref="Finish"/>) and not reset.</exception>
    public void Push(float probability)
    {
        if (!(probability is >= 0 and <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(probability), $"A speech probability must be in [0, 1], was {probability}.");
        }

        ThrowIfFinished();
        long position = _frames * FrameSamples;
        _frames++;

        // Silero's order of tests, one after another for the same frame.
        if (probability >= _threshold && _possibleEnd != None)
        {
            _possibleEnd = None;
        }

        if (probability >= _threshold && !_triggered)
        {
            _triggered = true;
            _confirmed = false;
            _start = position;
        }
        else if (probability < _negativeThreshold && _triggered)
        {
            if (_possibleEnd == None)
            {
                _possibleEnd = position;
            }

            if (position - _possibleEnd >= _minSilence)
            {
                EndCandidate(_possibleEnd);
            }
        }

        if (_triggered && !_confirmed)
        {
            // The candidate ends at its pending silence, or (no silence yet) at the start of a later frame's run
            // of silence or the signal's end: either way past this frame's first sample.
            long leastEnd = _possibleEnd != None ? _possibleEnd : position + 1;
            if (leastEnd - _start > _minSpeech)
            {
                Confirm();
            }
        }

        // The last kept segment's padded end is known once no later segment can start within 2·pad of it (the
        // next start is at least the open candidate's, else the next frame's) and end + pad is inside the signal
        // (which has more than `position` samples).
        if (_pendingEnd != None)
        {
            long nextStart = _triggered ? _start : position + FrameSamples;
            if (nextStart >= _pendingEnd + (2 * _pad) && _pendingEnd + _pad <= position + 1)
            {
                Emit(SpeechEventKind.End, (long)(_pendingEnd + _pad));
                _pendingEnd = None;
            }
        }
    }

    /// <summary>Ends the signal after <paramref name="totalSamples"/> samples (the last frame may be partly padding):
    /// the last segment's events are then read with <see cref="TryRead"/>. <see cref="Reset"/> starts a new signal.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="totalSamples"/> is not covered by the frames pushed
    /// (more than W·(frames − 1) and at most W·frames; 0 for no frames).</exception>
    public void Finish(long totalSamples)
    {
        ThrowIfFinished();
        long most = _frames * FrameSamples, least = _frames == 0 ? 0 : most - FrameSamples + 1;
        if (totalSamples < least || totalSamples > most)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(totalSamples), $"{_frames} frames of {FrameSamples} samples cover {least} … {most} samples; {totalSamples} given.");
        }

        _finished = true;
        if (_triggered && totalSamples - _start > _minSpeech)
        {
            if (!_confirmed)
            {
                Confirm();
            }

            _pendingEnd = totalSamples;
        }

        _triggered = false;
        if (_pendingEnd != None)
        {
            Emit(SpeechEventKind.End, (long)Math.Min(totalSamples, _pendingEnd + _pad));
            _pendingEnd = None;
        }
    }

    /// <summary>The next event decided so far, oldest first.</summary>
    public bool TryRead(out SpeechEvent speechEvent)
    {
        if (_queueCount == 0)
        {
            speechEvent = default;
            return false;
        }

        speechEvent = _queue[_queueHead];
        _queueHead = (_queueHead + 1) % _queue.Length;
        _queueCount--;
        return true;
    }

    /// <summary>
    /// The speech segments of a whole signal of <paramref name="totalSamples"/> samples from its frames'
    /// probabilities (one per <paramref name="frameSamples"/> samples, the last frame zero-padded): Silero's
    /// <c>get_speech_timestamps</c> on those probabilities, in samples.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="probabilities"/> does not hold ⌈totalSamples / frameSamples⌉ values, or one is outside [0, 1].</exception>
    public static SpeechSegment[] Segment(ReadOnlySpan<float> probabilities, long totalSamples, int sampleRate, int frameSamples, SpeechSegmenterOptions? options = null)
    {
        var segmenter = new SpeechSegmenter(sampleRate, frameSamples, options);
        if (totalSamples < 0)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(totalSamples), $"Must be non-negative, was {totalSamples}.");
        }

        long frames = (totalSamples + frameSamples - 1) / frameSamples;
        ThrowHelper.ThrowIfLengthIsNot(probabilities.Length, frames, nameof(probabilities), $"one per frame of {frameSamples} samples in {totalSamples} samples");
        var segments = new List<SpeechSegment>();
        long start = 0;
        void Drain()
        {
            while (segmenter.TryRead(out SpeechEvent e))
            {
                if (e.Kind == SpeechEventKind.Start)
                {
                    start = e.Sample;
                }
                else
                {
                    segments.Add(new SpeechSegment(start, e.Sample, sampleRate));
                }
            }
        }

        foreach (float p in probabilities)
        {
            if (!(p is >= 0 and <= 1))
            {
                ThrowHelper.Argument(nameof(probabilities), $"A speech probability must be in [0, 1], was {p}.");
            }

            segmenter.Push(p);
            Drain();
        }

        segmenter.Finish(totalSamples);
        Drain();
        return [.. segments];
    }

    // The candidate's silence has lasted long enough: it ends at `end`, kept if longer than min-speech.
    private void EndCandidate(long end)
    {
        if (end - _start > _minSpeech)
        {
            if (!_confirmed)
            {
                Confirm();
            }

            _pendingEnd = end;
        }

        _triggered = false;
        _confirmed = false;
        _possibleEnd = None;
    }

    // The open candidate will be kept: its padded start follows from the previous kept segment's raw end, whose own
    // padded end this decides if it is still pending.
    private void Confirm()
    {
        long paddedStart;
        if (_pendingEnd != None)
        {
            long gap = _start - _pendingEnd;
            if (gap < 2 * _pad)
            {
                Emit(SpeechEventKind.End, _pendingEnd + (gap / 2));
                paddedStart = Math.Max(0, _start - (gap / 2));
            }
            else
            {
                Emit(SpeechEventKind.End, (long)(_pendingEnd + _pad));
                paddedStart = (long)Math.Max(0, _start - _pad);
            }

            _pendingEnd = None;
        }
        else
        {
            paddedStart = (long)Math.Max(0, _start - _pad);
        }

        _confirmed = true;
        Emit(SpeechEventKind.Start, paddedStart);
    }

    private void Emit(SpeechEventKind kind, long sample)
    {
        if (_queueCount == _queue.Length)
        {
            // Events left unread: keep them all (a reader that drains after every frame never gets here).
            var larger = new SpeechEvent[_queue.Length * 2];
            for (int i = 0; i < _queueCount; i++)
            {
                larger[i] = _queue[(_queueHead + i) % _queue.Length];
            }

            _queue = larger;
            _queueHead = 0;
        }

        _queue[(_queueHead + _queueCount) % _queue.Length] = new SpeechEvent(kind, sample, SampleRate);
        _queueCount++;
    }

    private void ThrowIfFinished()
    {
        if (_finished)
        {
            ThrowHelper.InvalidOperation("The signal was finished; call Reset to start another.");
        }
    }
}
