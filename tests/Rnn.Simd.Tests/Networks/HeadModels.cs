using System.Security.Cryptography;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// One case of a <see cref="SequenceClassifier"/> or <see cref="SequenceTagger"/> test: the architecture, a batch of
/// seeded data (features or tokens, labels, lengths) and calls that reach either model through one shape.
/// </summary>
internal sealed record HeadCase(string Name, bool Tagger, RecurrentHeadOptions Options, int Steps, int Batch, int[]? Lengths)
{
    public static HeadCase Make(string name, bool tagger, RecurrentNetworkOptions stack, bool tokens, int steps = 4, int batch = 3, int[]? lengths = null, int classes = 3)
    {
        RecurrentHeadOptions options = tagger
            ? new SequenceTaggerOptions { Recurrent = stack, Classes = classes }
            : new SequenceClassifierOptions { Recurrent = stack, Classes = classes };
        options = tokens ? options with { VocabularySize = 5, EmbeddingSize = stack.InputSize } : options with { InputSize = stack.InputSize };
        return new HeadCase(name, tagger, options, steps, batch, lengths);
    }

    public bool Tokens => Options.TokenInput;

    public int LabelCount => Tagger ? Steps * Batch : Batch;

    public int OutputCount => LabelCount * Options.Classes;

    public override string ToString() => Name;

    public SequenceModel CreateModel(ulong seed) => Tagger
        ? SequenceTagger.Create((SequenceTaggerOptions)Options, seed)
        : SequenceClassifier.Create((SequenceClassifierOptions)Options, seed);

    /// <summary>Features [T, B, X] (empty for token input), tokens [T, B] (empty for feature input), labels with one ignored.</summary>
    public (float[] Input, int[] Tokens, int[] Labels) Data(ulong seed)
    {
        var random = new TestRandom(seed);
        float[] input = Tokens ? [] : random.Array(Steps * Batch * Options.InputSize);
        int[] tokens = Tokens ? Enumerable.Range(0, Steps * Batch).Select(_ => random.Next(Options.VocabularySize)).ToArray() : [];
        int[] labels = Enumerable.Range(0, LabelCount).Select(_ => random.Next(Options.Classes)).ToArray();
        labels[^1] = Losses.DefaultIgnoreIndex;
        return (input, tokens, labels);
    }

    public static TrainingResult Train(SequenceModel model, float[] input, int[] tokens, int steps, int batch, int[] labels, int[]? lengths = null, int[]? predictions = null, ThreadTeam? threads = null, bool? useTokens = null)
    {
        var head = (RecurrentHeadModel)model;
        return useTokens ?? head.Embedding is not null
            ? head.ForwardBackward(tokens, steps, batch, labels, lengths, predictions, threads)
            : head.ForwardBackward(input, steps, batch, labels, lengths, predictions, threads);
    }

    public static void Dispose(SequenceModel model) => ((IDisposable)model).Dispose();

    /// <summary>The first 16 hex digits of the SHA-256 of the parameter values' bits.</summary>
    public static string Fingerprint(ParameterSet parameters)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        BitHash.Append(hash, parameters.Values);
        return Convert.ToHexString(hash.GetHashAndReset())[..16];
    }
}
