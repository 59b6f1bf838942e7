namespace Rnn.Simd.Cli.Data;

/// <summary>
/// One long sequence cut into <see cref="Batch"/> contiguous streams (char-rnn's layout): stream b is elements
/// b·L … b·L + L − 1 of the sequence, L = (n − 1) / B, and each chunk is the next <see cref="Steps"/> positions of
/// every stream, so that a recurrent state carried from one chunk to the next continues each stream. The target of
/// position p is element p + 1. An epoch ends when the next chunk would run past L; the cursor then restarts at 0.
/// </summary>
internal sealed class ContiguousStreams
{
    /// <summary>Cuts a sequence of <paramref name="length"/> elements.</summary>
    /// <exception cref="ArgumentException">The sequence is too short for one chunk of every stream.</exception>
    public ContiguousStreams(int length, int batch, int steps)
    {
        if (batch < 1 || steps < 1)
        {
            throw new ArgumentException($"--batch and --steps must be at least 1 (were {batch} and {steps}).");
        }

        StreamLength = (length - 1) / batch;
        if (StreamLength < steps)
        {
            throw new ArgumentException(
                $"The data ({length} elements) is too short for {batch} streams of {steps} steps plus one target: it needs at least {(batch * steps) + 1}; use a smaller --batch or --steps.");
        }

        Batch = batch;
        Steps = steps;
    }

    /// <summary>B, the number of streams.</summary>
    public int Batch { get; }

    /// <summary>T, the steps per chunk.</summary>
    public int Steps { get; }

    /// <summary>L, the length of each stream.</summary>
    public int StreamLength { get; }

    /// <summary>The chunks per epoch.</summary>
    public int ChunksPerEpoch => StreamLength / Steps;

    /// <summary>The position of the next chunk in each stream (0 at the start of an epoch).</summary>
    public int Cursor { get; set; }

    /// <summary>
    /// Advances to the next chunk and returns its first position; <paramref name="epochStart"/> says the cursor wrapped
    /// (a recurrent state carried between chunks must be reset).
    /// </summary>
    public int Next(out bool epochStart)
    {
        epochStart = Cursor == 0 || Cursor + Steps > StreamLength;
        if (Cursor + Steps > StreamLength)
        {
            Cursor = 0;
        }

        int start = Cursor;
        Cursor += Steps;
        return start;
    }

    /// <summary>The index in the sequence of position <paramref name="position"/> of stream <paramref name="stream"/>.</summary>
    public int Index(int stream, int position) => (stream * StreamLength) + position;

    /// <summary>Fills a time-major chunk [T, B] of inputs and targets (the next element) starting at <paramref name="start"/>.</summary>
    public void Fill<T>(ReadOnlySpan<T> sequence, int start, Span<T> inputs, Span<T> targets)
    {
        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                int i = Index(b, start + t);
                inputs[(t * Batch) + b] = sequence[i];
                targets[(t * Batch) + b] = sequence[i + 1];
            }
        }
    }
}
