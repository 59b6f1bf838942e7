using System.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A sequence-to-sequence model for training (<see cref="EncoderDecoderOptions"/>) with teacher forcing, optionally
/// scheduled sampling, and an immutable snapshot (<see cref="ToInference"/>) that decodes.
/// </summary>
/// <remarks>
/// <para><see cref="ForwardBackward"/>: the encoder runs over the source [S, B] (per-sequence lengths optional: its final
/// state is taken after each sequence's last token); the decoder starts from that state and reads BOS, then the
/// true previous target token (teacher forcing). With a ratio below 1, step t ≥ 1 is forced with that probability
/// (<see cref="TrainableJordanNetwork.IsTeacherForced"/>(ratio, seed, t), one decision for the batch) and otherwise
/// reads the decoder's own argmax at step t − 1 (scheduled sampling, Bengio et al. 2015): those inputs are found by
/// running the decoder step by step first, then one recorded pass over them (the same bits) is trained; the fed-back
/// token is a constant for backward.</para>
/// <para>L = mean softmax cross-entropy over the counted target positions (not <see cref="EncoderDecoderOptions.PadToken"/>,
/// not −100). Backward runs decoder → dL/d(h0, c0) → the encoder's dL/d(h_n, c_n) → encoder → source embedding,
/// adding dL/d(every parameter) into <see cref="SequenceModel.Parameters"/>. A fixed batch shape allocates nothing
/// after the first call; driven by one thread at a time.</para>
/// </remarks>
public sealed class EncoderDecoder : SequenceModel, IDisposable
{
    private readonly StackWithHead _decoder;
    private readonly RecurrentTape _encoderTape, _stepTape;
    private float[] _encoderX = [], _encoderOut = [], _bridgeH = [], _bridgeC = [], _gradBridgeH = [], _gradBridgeC = [];
    private float[] _stepH = [], _stepC = [], _stepX = [], _stepFeatures = [], _stepLogits = [];
    private int[] _decoderTokens = [], _lossTargets = [];

    /// <summary>Binds a model to the tensors named in <see cref="EncoderDecoderOptions"/> of <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or a tensor is missing or has the wrong shape.</exception>
    public EncoderDecoder(EncoderDecoderOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters)
    {
        options.Validate();
        RecurrentNetworkOptions stack = options.Stack;
        SourceEmbedding = new TrainableEmbedding(options.SourceVocabularySize, options.EmbeddingSize, parameters, ModelPrefixes.Encoder.Embedding);
        Encoder = new TrainableRecurrentNetwork(stack, parameters, ModelPrefixes.Encoder.Recurrent, pool);
        _decoder = new StackWithHead(stack, stack.LayerOutputSize, options.TargetVocabularySize, OutputActivation.Identity, parameters, options.TargetVocabularySize, ModelPrefixes.Decoder, pool);
        Encoder.Dropout = options.Dropout;
        _decoder.Network.Dropout = options.Dropout;
        _encoderTape = Encoder.CreateTape();
        _stepTape = Decoder.CreateTape();
    }

    /// <summary>The architecture.</summary>
    public new EncoderDecoderOptions Options => (EncoderDecoderOptions)base.Options;

    /// <summary>The source embedding (<c>source_embedding.weight</c>).</summary>
    public TrainableEmbedding SourceEmbedding { get; }

    /// <summary>The encoder stack (<c>encoder.*</c>).</summary>
    public TrainableRecurrentNetwork Encoder { get; }

    /// <summary>The target embedding (<c>target_embedding.weight</c>).</summary>
    public TrainableEmbedding TargetEmbedding => _decoder.Embedding!;

    /// <summary>The decoder stack (<c>decoder.*</c>).</summary>
    public TrainableRecurrentNetwork Decoder => _decoder.Network;

    /// <summary>The head over the target vocabulary (<c>head.*</c>).</summary>
    public TrainableDenseLayer Head => _decoder.Head;

    /// <summary>
    /// A model with a new parameter set: zeros (to load weights into), or with <paramref name="seed"/> PyTorch's default
    /// initialisation (<see cref="Initializers.Apply"/>; embeddings N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static EncoderDecoder Create(EncoderDecoderOptions options, ulong? seed = null, ArrayPool<float>? pool = null) =>
        new(options, CreateParameters(options, seed), pool);

    /// <summary>One training step on a batch of pairs: forward, mean cross-entropy, backward (gradients added).</summary>
    /// <param name="source">Source ids [S, B], time-major (positions past a sequence's length: any valid id).</param>
    /// <param name="sourceSteps">S ≥ 1.</param>
    /// <param name="target">The target ids to predict [T, B] (typically ending with EOS), time-major; PAD or −100 where a sequence has ended.</param>
    /// <param name="targetSteps">T ≥ 1.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="sourceLengths">Per-sequence source lengths [B] in [0, S], or empty for all S.</param>
    /// <param name="teacherForcingRatio">In [0, 1]: the probability that decoder step t ≥ 1 reads the true previous token; 1 = always.</param>
    /// <param name="seed">Seeds the teacher-forcing decisions.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <returns>The mean loss over the counted target positions (NaN when none counts) and how many the logits got right.</returns>
    /// <exception cref="ArgumentException">A size is off, an id or length is out of range, or the ratio is not in [0, 1].</exception>
    public TrainingResult ForwardBackward(
        ReadOnlySpan<int> source, int sourceSteps, ReadOnlySpan<int> target, int targetSteps, int batch,
        ReadOnlySpan<int> sourceLengths = default, double teacherForcingRatio = 1, ulong seed = 0, ThreadTeam? threads = null)
    {
        EncoderDecoderOptions o = Options;
        int vt = o.TargetVocabularySize;
        LanguageModel.ValidateChunk(sourceSteps, batch, source.Length, 1, nameof(source), "S·B");
        LanguageModel.ValidateChunk(targetSteps, batch, target.Length, 1, nameof(target), "T·B");
        Embedding.ValidateTokens(source, o.SourceVocabularySize, nameof(source));
        LanguageModel.ValidateTargets(target, vt, nameof(target));
        if (!(teacherForcingRatio >= 0 && teacherForcingRatio <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(teacherForcingRatio), $"Must be in [0, 1], was {teacherForcingRatio}.");
        }

        RecurrentNetworkOptions stack = Encoder.Options;
        int e = o.EmbeddingSize, hOut = stack.OutputSize, rows = targetSteps * batch;
        int stateH = stack.Layers * batch * hOut, stateC = stack.Cell == CellType.Lstm ? stack.Layers * batch * stack.HiddenSize : 0;
        Buffers.Grow(ref _encoderX, sourceSteps * batch * e);
        Buffers.Grow(ref _encoderOut, sourceSteps * batch * hOut);
        Buffers.Grow(ref _bridgeH, stateH);
        Buffers.Grow(ref _gradBridgeH, stateH);
        Buffers.Grow(ref _bridgeC, stateC);
        Buffers.Grow(ref _gradBridgeC, stateC);
        Buffers.Grow(ref _decoderTokens, rows);
        Buffers.Grow(ref _lossTargets, rows);
        Span<float> encoderX = _encoderX.AsSpan(0, sourceSteps * batch * e);
        Span<float> h = _bridgeH.AsSpan(0, stateH), c = _bridgeC.AsSpan(0, stateC);
        Span<float> gradH = _gradBridgeH.AsSpan(0, stateH), gradC = _gradBridgeC.AsSpan(0, stateC);
        Span<int> decoderTokens = _decoderTokens.AsSpan(0, rows), lossTargets = _lossTargets.AsSpan(0, rows);

        // Encoder: only its final state is used (the bridge).
        SourceEmbedding.Forward(source, encoderX);
        StackWithHead.DropEmbeddingRows(Encoder.ActiveDropout, Encoder.DropoutStep, 1, source, encoderX);
        Encoder.Forward(_encoderTape, encoderX, sourceSteps, batch, _encoderOut.AsSpan(0, sourceSteps * batch * hOut), hN: h, cN: c, lengths: sourceLengths, threads: threads);

        // Decoder inputs: BOS, then the previous target (PAD where it is ignored) or, unforced, the own argmax.
        for (int i = 0; i < rows; i++)
        {
            int previous = i < batch ? o.BosToken : target[i - batch];
            decoderTokens[i] = i < batch ? o.BosToken : (uint)previous < (uint)vt ? previous : o.PadToken;
            lossTargets[i] = target[i] == o.PadToken ? Losses.DefaultIgnoreIndex : target[i];
        }

        if (teacherForcingRatio < 1)
        {
            SampleDecoderInputs(decoderTokens, targetSteps, batch, h, c, teacherForcingRatio, seed, threads);
        }

        _decoder.EmbedForTraining(decoderTokens, _decoder.Input(targetSteps, batch));
        Span<float> logits = _decoder.Forward(h, c, default, default, threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, rows, vt, lossTargets, _decoder.OutputGradient);
        (int correct, int counted) = ModelParts.Score(logits, rows, vt, lossTargets, default);

        gradH.Clear();
        gradC.Clear();
        _decoder.EmbeddingBackward(decoderTokens, _decoder.Backward(gradH, gradC, inputGradient: true, threads));
        Span<float> gradEncoderX = encoderX;   // the inputs are recorded on the tape: reuse their buffer for dL/dx
        gradEncoderX.Clear();
        Encoder.Backward(_encoderTape, default, gradH, gradC, gradInput: gradEncoderX, threads: threads);
        StackWithHead.DropEmbeddingRows(_encoderTape.Dropout, _encoderTape.DropoutStep, 1, source, gradEncoderX);
        SourceEmbedding.Backward(source, gradEncoderX);
        return new TrainingResult(loss, correct, counted);
    }

    /// <summary>An immutable snapshot of the current parameters for decoding (safe to share between threads).</summary>
    public EncoderDecoderInference ToInference() => new(
        Options, SourceEmbedding.ToInferenceEmbedding(), Encoder.ToInferenceNetwork(),
        TargetEmbedding.ToInferenceEmbedding(), Decoder.ToInferenceNetwork(), Head.ToInferenceLayer());

    /// <summary>Returns the tapes' buffers to the pool.</summary>
    public void Dispose()
    {
        _decoder.Dispose();
        _encoderTape.Dispose();
        _stepTape.Dispose();
    }

    /// <summary>Scheduled sampling: runs the decoder step by step and replaces each unforced input by the argmax at the step before.</summary>
    private void SampleDecoderInputs(Span<int> tokens, int steps, int batch, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, double ratio, ulong seed, ThreadTeam? threads)
    {
        int e = Options.EmbeddingSize, v = Options.TargetVocabularySize, hOut = Decoder.Options.OutputSize;
        Buffers.Grow(ref _stepH, h0.Length);
        Buffers.Grow(ref _stepC, c0.Length);
        Buffers.Grow(ref _stepX, batch * e);
        Buffers.Grow(ref _stepFeatures, batch * hOut);
        Buffers.Grow(ref _stepLogits, batch * v);
        Span<float> h = _stepH.AsSpan(0, h0.Length), c = _stepC.AsSpan(0, c0.Length);
        Span<float> x = _stepX.AsSpan(0, batch * e), features = _stepFeatures.AsSpan(0, batch * hOut), logits = _stepLogits.AsSpan(0, batch * v);
        h0.CopyTo(h);
        c0.CopyTo(c);
        for (int t = 0; t + 1 < steps; t++)
        {
            // One streamed step (the state advances in place: the same bits as step t of the recorded pass).
            TargetEmbedding.Forward(tokens.Slice(t * batch, batch), x);
            Decoder.Forward(_stepTape, x, 1, batch, features, h, c, h, c, threads: threads);
            if (TrainableJordanNetwork.IsTeacherForced(ratio, seed, t + 1))
            {
                continue;
            }

            Head.Forward(features, batch, logits, threads);
            for (int b = 0; b < batch; b++)
            {
                tokens[((t + 1) * batch) + b] = TokenSampler.ArgMax(logits.Slice(b * v, v));
            }
        }
    }
}
