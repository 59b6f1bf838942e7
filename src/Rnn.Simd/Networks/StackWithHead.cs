using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// The part every model is made of: an optional token embedding, a recurrent stack and a dense head, bound to one
/// <see cref="ParameterSet"/> under one <see cref="ModelPrefixes"/> table, with the stack's tape and one pooled
/// workspace (rented on first use, exchanged only for a larger call, returned on <see cref="Dispose"/>: a training
/// step of a steady size allocates nothing). The classifier, tagger, language model, forecaster and the
/// encoder-decoder's decoder are each one of these; so are the demo's experiments. Driven by one thread at a time.
/// </summary>
/// <remarks>
/// Build one over your own <see cref="ParameterSet"/> (<see cref="Specs"/> lists its tensors, in this order:
/// embedding, stack, head), or with <see cref="Create"/>, which makes the set too. Then run <see cref="Network"/> with
/// <see cref="Tape"/> and <see cref="Head"/> as you like, and train every tensor with one <see cref="Trainer"/>.
/// </remarks>
public sealed class StackWithHead : IDisposable
{
    private readonly TapeBuffer _work;
    private int[]? _ints;
    private int _steps, _batch;

    /// <summary>Binds the parts to the tensors of <paramref name="parameters"/> named by <paramref name="prefixes"/>.</summary>
    /// <param name="stack">The recurrent stack.</param>
    /// <param name="headInputs">Features the head reads per row (e.g. the stack's <see cref="RecurrentNetworkOptions.LayerOutputSize"/>).</param>
    /// <param name="outputs">The head's outputs per row.</param>
    /// <param name="activation">The head's output activation (identity: logits).</param>
    /// <param name="parameters">The set holding every tensor.</param>
    /// <param name="vocabulary">Token input: the embedding's vocabulary; 0 for float features (no embedding).</param>
    /// <param name="prefixes">The tensors' names; null for <see cref="ModelPrefixes.Default"/>.</param>
    /// <param name="pool">The pool of the tape and the workspace; null for <see cref="ArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ArgumentException">A size is invalid, or a tensor is missing or has the wrong shape.</exception>
    public StackWithHead(
        RecurrentNetworkOptions stack, int headInputs, int outputs, OutputActivation activation, ParameterSet parameters,
        int vocabulary = 0, ModelPrefixes? prefixes = null, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(vocabulary);
        Prefixes = prefixes ?? ModelPrefixes.Default;
        Parameters = parameters;
        Embedding = vocabulary > 0 ? new TrainableEmbedding(vocabulary, stack.InputSize, parameters, Prefixes.Embedding) : null;
        Network = new TrainableRecurrentNetwork(stack, parameters, Prefixes.Recurrent, pool);
        Head = new TrainableDenseLayer(headInputs, outputs, activation, parameters, Prefixes.Head, pool);
        Tape = Network.CreateTape();
        _work = new TapeBuffer(pool ?? ArrayPool<float>.Shared, nameof(StackWithHead));
    }

    /// <summary>The tensors of such a part, in order: the embedding (when <paramref name="vocabulary"/> &gt; 0), the stack, the head.</summary>
    /// <param name="stack">The recurrent stack (its input size is the embedding's dimension for token input).</param>
    /// <param name="headInputs">Features the head reads per row.</param>
    /// <param name="outputs">The head's outputs per row.</param>
    /// <param name="vocabulary">Token input: the embedding's vocabulary; 0 for none.</param>
    /// <param name="prefixes">The tensors' names; null for <see cref="ModelPrefixes.Default"/>.</param>
    /// <param name="bias">Whether the stack and the head have biases.</param>
    public static IReadOnlyList<ParameterSpec> Specs(
        RecurrentNetworkOptions stack, int headInputs, int outputs, int vocabulary = 0, ModelPrefixes? prefixes = null, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ModelPrefixes p = prefixes ?? ModelPrefixes.Default;
        var specs = new List<ParameterSpec>();
        if (vocabulary > 0)
        {
            specs.AddRange(TrainableEmbedding.Specs(vocabulary, stack.InputSize, p.Embedding));
        }

        specs.AddRange(stack.ParameterSpecs(p.Recurrent, bias));
        specs.AddRange(TrainableDenseLayer.Specs(headInputs, outputs, p.Head, bias));
        return specs;
    }

    /// <summary>
    /// A part with a new parameter set (zeros: initialise it, e.g. with <see cref="Initializers.Apply"/>): a stack over
    /// float features and a head on its per-step output (<see cref="RecurrentNetworkOptions.LayerOutputSize"/> features).
    /// </summary>
    /// <exception cref="ArgumentException">A size is invalid.</exception>
    public static StackWithHead Create(RecurrentNetworkOptions stack, int outputs, OutputActivation activation, bool bias = true, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ParameterSet parameters = ParameterSet.Create(Specs(stack, stack.LayerOutputSize, outputs, bias: bias));
        return new StackWithHead(stack, stack.LayerOutputSize, outputs, activation, parameters, pool: pool);
    }

    /// <summary>The set holding every tensor of the part.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The tensors' names.</summary>
    public ModelPrefixes Prefixes { get; }

    /// <summary>The token embedding, or null for float-feature input.</summary>
    public TrainableEmbedding? Embedding { get; }

    /// <summary>The recurrent stack.</summary>
    public TrainableRecurrentNetwork Network { get; }

    /// <summary>The dense head.</summary>
    public TrainableDenseLayer Head { get; }

    /// <summary>The stack's tape: what its latest forward call recorded for backward.</summary>
    public RecurrentTape Tape { get; }

    /// <summary>The workspace, at least <paramref name="floats"/> long (contents undefined; earlier views are invalid).</summary>
    internal Span<float> Scratch(int floats)
    {
        _work.Reserve(floats);
        return _work.Slice(0, floats);
    }

    /// <summary>An int workspace of <paramref name="count"/> entries (contents undefined), pooled like the float one.</summary>
    internal Span<int> Targets(int count)
    {
        if (_ints is null || _ints.Length < count)
        {
            if (_ints is not null)
            {
                ArrayPool<int>.Shared.Return(_ints);
            }

            _ints = ArrayPool<int>.Shared.Rent(Math.Max(count, 1));
        }

        return _ints.AsSpan(0, count);
    }

    /// <summary>The step features of a call: the input itself, or the tokens' embedding rows written into <paramref name="embedded"/>.</summary>
    internal ReadOnlySpan<float> StepInput(ReadOnlySpan<float> features, ReadOnlySpan<int> tokens, Span<float> embedded)
    {
        if (Embedding is null)
        {
            return features;
        }

        EmbedForTraining(tokens, embedded);
        return embedded;
    }

    /// <summary>
    /// The tokens' embedding rows for a training forward pass, with the embedding dropout of the stack's
    /// <see cref="TrainableRecurrentNetwork.Dropout"/> at the step its next forward pass draws for.
    /// </summary>
    internal void EmbedForTraining(ReadOnlySpan<int> tokens, Span<float> embedded)
    {
        Embedding!.Forward(tokens, embedded);
        DropEmbeddingRows(Network.ActiveDropout, Network.DropoutStep, 0, tokens, embedded);
    }

    /// <summary>Backward into the embedding from dL/d(embedded rows), through the mask of the tape's forward pass.</summary>
    internal void EmbeddingBackward(ReadOnlySpan<int> tokens, Span<float> gradEmbedded)
    {
        DropEmbeddingRows(Tape.Dropout, Tape.DropoutStep, 0, tokens, gradEmbedded);
        Embedding!.Backward(tokens, gradEmbedded);
    }

    /// <summary>
    /// Embedding dropout (Gal and Ghahramani 2016): row v of the embedding is dropped or kept for the whole pass, so
    /// every position holding token v is zeroed, or scaled by 1/(1 − p). Applied the same way to the rows' gradients.
    /// <paramref name="embedding"/> tells the model's embeddings apart (the encoder-decoder has two).
    /// </summary>
    internal static void DropEmbeddingRows(DropoutOptions? dropout, long step, int embedding, ReadOnlySpan<int> tokens, Span<float> rows)
    {
        if (dropout is not { EmbeddingDropout: > 0 } || tokens.IsEmpty)
        {
            return;
        }

        ulong key = DropoutMask.Key(dropout.Seed, step, DropoutMask.Embedding, embedding);
        uint threshold = DropoutMask.Threshold(dropout.EmbeddingDropout);
        float scale = DropoutMask.Scale(dropout.EmbeddingDropout);
        int size = rows.Length / tokens.Length;
        for (int i = 0; i < tokens.Length; i++)
        {
            Span<float> row = rows.Slice(i * size, size);
            if (DropoutMask.Kept(key, tokens[i], threshold))
            {
                TensorPrimitives.Multiply(row, scale, row);
            }
            else
            {
                row.Clear();
            }
        }
    }

    /// <summary>Backward through the stack with dL/d(output) and dL/dh_n, then into the embedding when there is one.</summary>
    internal void Backward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gradHN, ReadOnlySpan<int> tokens, Span<float> gradEmbedded, ThreadTeam? threads)
    {
        if (Embedding is null)
        {
            Network.Backward(Tape, gradOutput, gradHN, threads: threads);
            return;
        }

        gradEmbedded.Clear();
        Network.Backward(Tape, gradOutput, gradHN, gradInput: gradEmbedded, threads: threads);
        EmbeddingBackward(tokens, gradEmbedded);
    }

    // A whole chunk through stack and head (the generative models): the workspace holds, in this order,
    // x and dL/dx [T·B, X], the stack's output and its gradient [T·B, F], y and dL/dy [T·B, O].
    private int Rows => _steps * _batch;

    private int XFloats => Rows * Network.Options.InputSize;

    private int FeatureFloats => Rows * Network.Options.LayerOutputSize;

    private int YFloats => Rows * Head.Outputs;

    /// <summary>Sizes the workspace for a chunk [steps, batch] and returns its input x [T·B, X] to fill.</summary>
    internal Span<float> Input(int steps, int batch)
    {
        _steps = steps;
        _batch = batch;
        _work.Reserve(2 * (XFloats + FeatureFloats + YFloats));
        return _work.Slice(0, XFloats);
    }

    private Span<float> GradInput => _work.Slice(XFloats, XFloats);

    private Span<float> Features => _work.Slice(2 * XFloats, FeatureFloats);

    private Span<float> GradFeatures => _work.Slice((2 * XFloats) + FeatureFloats, FeatureFloats);

    /// <summary>The head's outputs y [T·B, O] of the latest <see cref="Forward"/>.</summary>
    internal Span<float> Output => _work.Slice(2 * (XFloats + FeatureFloats), YFloats);

    /// <summary>dL/dy [T·B, O], for the caller to write before the chunk's backward.</summary>
    internal Span<float> OutputGradient => _work.Slice((2 * (XFloats + FeatureFloats)) + YFloats, YFloats);

    /// <summary>Records the stack over the chunk's input from (h0, c0), writing the final state into (hN, cN); returns y.</summary>
    internal Span<float> Forward(ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, ThreadTeam? threads)
    {
        Span<float> features = Features;
        Network.Forward(Tape, _work.Slice(0, XFloats), _steps, _batch, features, h0, c0, hN, cN, threads: threads);
        Head.Forward(features, Rows, Output, threads);
        return Output;
    }

    /// <summary>
    /// The chunk's backward from <see cref="OutputGradient"/>: adds the parameter gradients, adds dL/dh0 and dL/dc0 into
    /// the given buffers (empty: not wanted) and returns dL/dx [T·B, X] (empty unless <paramref name="inputGradient"/>).
    /// </summary>
    internal Span<float> Backward(Span<float> gradH0, Span<float> gradC0, bool inputGradient, ThreadTeam? threads)
    {
        Span<float> gradFeatures = GradFeatures;
        gradFeatures.Clear();
        Head.Backward(Features, Output, OutputGradient, Rows, gradFeatures, threads);
        Span<float> gradX = inputGradient ? GradInput : default;
        gradX.Clear();
        Network.Backward(Tape, gradFeatures, gradInput: gradX, gradH0: gradH0, gradC0: gradC0, threads: threads);
        return gradX;
    }

    /// <summary>Returns the tape and the workspaces to their pools.</summary>
    public void Dispose()
    {
        Tape.Dispose();
        _work.Dispose();
        if (_ints is not null)
        {
            ArrayPool<int>.Shared.Return(_ints);
            _ints = null;
        }
    }
}
