using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// One caller's stream through an immutable (embedding →) recurrent stack → dense head: the state, the scratch and the
/// head's output for the latest step (the logits of the next token, or the next values of a series). Feeding a chunk
/// runs it through the stack in one call (one input GEMM) and the head on its last step only. Grows its scratch to
/// the longest chunk fed; a single step allocates nothing.
/// </summary>
internal sealed class HeadStream
{
    private readonly Embedding? _embedding;
    private readonly RecurrentNetwork _network;
    private readonly DenseLayer _head;
    private readonly float[] _output;
    private float[] _x, _y;

    public HeadStream(Embedding? embedding, RecurrentNetwork network, DenseLayer head)
    {
        _embedding = embedding;
        _network = network;
        _head = head;
        State = network.CreateState(1);
        _output = new float[head.Outputs];
        _x = new float[network.Options.InputSize];
        _y = new float[network.Options.OutputSize];
    }

    public RecurrentState State { get; }

    /// <summary>Whether <see cref="Output"/> holds a prediction (a step was fed since the last reset).</summary>
    public bool HasOutput { get; private set; }

    /// <summary>The head's output for the latest step fed [O].</summary>
    public ReadOnlySpan<float> Output => _output;

    public void Reset()
    {
        State.Reset();
        HasOutput = false;
    }

    /// <summary>Runs <paramref name="tokens"/> (checked by the lookup) through the embedding, the stack, and the head on the last one.</summary>
    public void Feed(ReadOnlySpan<int> tokens, ThreadTeam? threads)
    {
        if (tokens.IsEmpty)
        {
            return;
        }

        int n = tokens.Length, e = _embedding!.Dimension;
        Buffers.Grow(ref _x, n * e);
        _embedding.Lookup(tokens, _x.AsSpan(0, n * e));
        FeedInputs(_x.AsSpan(0, n * e), n, threads);
    }

    /// <summary>Runs n input vectors x [n, X] (n ≥ 1) through the stack, and the head on the last one.</summary>
    public void FeedInputs(ReadOnlySpan<float> x, int n, ThreadTeam? threads)
    {
        int hOut = _network.Options.OutputSize;
        Buffers.Grow(ref _y, n * hOut);
        _network.Process(State, x, n, _y.AsSpan(0, n * hOut), threads);
        _head.Forward(_y.AsSpan((n - 1) * hOut, hOut), 1, _output, threads, _network.Pool);
        HasOutput = true;
    }

    /// <summary>Feeds one token.</summary>
    public void Feed(int token, ThreadTeam? threads)
    {
        Embedding.ValidateToken(token, _embedding!.Vocabulary, nameof(token));
        Feed(new ReadOnlySpan<int>(in token), threads);
    }

    /// <summary>Throws unless a token has been fed.</summary>
    public void RequireOutput()
    {
        if (!HasOutput)
        {
            ThrowHelper.InvalidOperation("Nothing has been fed yet: prime the stream with at least one token first.");
        }
    }
}
