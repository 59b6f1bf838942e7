using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary><see cref="LanguageModel"/>: stateful chunk training, learning, generation, evaluation, allocation and validation.</summary>
[Trait("Category", "Networks")]
[Collection(NonParallelCollection.Name)]
public sealed class LanguageModelTests(ITestOutputHelper output)
{
    private const string Text = "hello world ";
    private static readonly char[] s_alphabet = [.. Text.Distinct().Order()];

    private static int[] Encode(string text) => [.. text.Select(ch => Array.IndexOf(s_alphabet, ch))];

    private static string Decode(ReadOnlySpan<int> tokens) => new([.. tokens.ToArray().Select(t => s_alphabet[t])]);

    private static LanguageModel Small(CellType cell = CellType.Lstm, ulong seed = 1)
    {
        var model = LanguageModel.Create(new LanguageModelOptions { VocabularySize = 6, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 5, Cell = cell } });
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, seed);
        return model;
    }

    [Fact]
    public void LearnsARepeatingString_AndGreedyGenerationFromAPromptReproducesIt()
    {
        const int steps = 12, batch = 4;
        var options = new LanguageModelOptions { VocabularySize = s_alphabet.Length, EmbeddingSize = 8, Recurrent = new RecurrentNetworkOptions { HiddenSize = 32, Cell = CellType.Lstm } };
        using var model = LanguageModel.Create(options);
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 7);
        var trainer = new Trainer(model.Parameters, new Adam(0.02), new TrainerOptions { MaxGradientNorm = 5 });

        // B streams through the repeated text, each starting at its own offset, in consecutive chunks [T, B].
        int[] stream = Encode(string.Concat(Enumerable.Repeat(Text, 4)));
        var tokens = new int[steps * batch];
        var targets = new int[steps * batch];
        var watch = Stopwatch.StartNew();
        double loss = double.NaN;
        for (int chunk = 0; chunk < 150; chunk++)
        {
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    int at = ((chunk * steps) + t + (b * 5)) % Text.Length;
                    tokens[(t * batch) + b] = stream[at];
                    targets[(t * batch) + b] = stream[at + 1];
                }
            }

            loss = model.ForwardBackward(tokens, steps, batch, targets).Loss;
            trainer.Update();
        }

        output.WriteLine($"final loss {loss:F4} after 150 chunks in {watch.ElapsedMilliseconds} ms");
        Assert.True(loss < 0.05, $"loss {loss}");

        LanguageModelInference inference = model.ToInference();
        TokenGenerator generator = inference.CreateGenerator();
        generator.Prime(Encode("hello"));
        var generated = new int[31];
        generator.Generate(generated);
        string text = Decode(generated);
        output.WriteLine($"hello|{text}");
        Assert.Equal(string.Concat(Enumerable.Repeat(Text, 4))[5..36], text);

        // A prompt in the middle of a word continues it; the evaluation of the text is near-certain.
        generator.Reset();
        generator.Prime(Encode("wor"));
        generator.Generate(generated.AsSpan(0, 9));
        Assert.Equal("ld hello ", Decode(generated.AsSpan(0, 9)));
        LanguageModelEvaluation evaluation = inference.Evaluate(Encode("hello world hello world"));
        output.WriteLine($"perplexity {evaluation.Perplexity:F4} over {evaluation.Predictions} predictions");
        Assert.True(evaluation.Perplexity < 1.6, $"perplexity {evaluation.Perplexity}");
    }

    [Fact]
    public void StatefulChunks_EqualTruncatedBptt_WithTheSameWindows_ThroughOptimiserSteps()
    {
        const int steps = 4, batch = 3;
        using LanguageModel model = Small();
        LanguageModelOptions o = model.Options;
        ParameterSet twin = ParameterSet.Create(o.ParameterSpecs());
        model.Parameters.Values.CopyTo(twin.Values);
        twin.MarkChanged();
        var embedding = new TrainableEmbedding(o.VocabularySize, o.EmbeddingSize, twin, "embedding.");
        var network = new TrainableRecurrentNetwork(o.Stack, twin, "rnn.");
        var head = new TrainableDenseLayer(o.Recurrent.HiddenSize, o.VocabularySize, OutputActivation.Identity, twin, "head.");
        using var tbptt = new TruncatedBptt(network, steps, steps, batch);
        var trainer = new Trainer(model.Parameters, new Sgd(0.5));
        int rows = steps * batch;
        float[] x = new float[rows * o.EmbeddingSize], features = new float[rows * o.Recurrent.HiddenSize], gradFeatures = new float[features.Length];
        float[] logits = new float[rows * o.VocabularySize], gradLogits = new float[logits.Length];
        var random = new TestRandom(3);
        for (int chunk = 0; chunk < 4; chunk++)
        {
            int[] tokens = ModelReference.Tokens(random, rows, 0, o.VocabularySize), targets = ModelReference.Tokens(random, rows, 0, o.VocabularySize);
            double loss = model.ForwardBackward(tokens, steps, batch, targets).Loss;

            embedding.Forward(tokens, x);
            tbptt.Forward(x, steps, features);
            head.Forward(features, rows, logits);
            double expected = Losses.SoftmaxCrossEntropy(logits, rows, o.VocabularySize, targets, gradLogits);
            Array.Clear(gradFeatures);
            head.Backward(features, logits, gradLogits, rows, gradFeatures);
            tbptt.Backward(gradFeatures);

            Assert.Equal(expected, loss);
            Assert.Equal(tbptt.Hidden.ToArray(), model.CarriedHidden.ToArray());
            Assert.Equal(tbptt.Cell.ToArray(), model.CarriedCell.ToArray());
            foreach (ParameterTensor t in twin.Tensors.Where(t => t.Role != ParameterRole.Embedding))
            {
                Assert.True(twin.Gradient(t).SequenceEqual(model.Parameters.Gradient(t.Name)), $"chunk {chunk}: {t.Name}");
            }

            trainer.Update();
            model.Parameters.Values.CopyTo(twin.Values);
            twin.MarkChanged();
            twin.ZeroGradients();
        }
    }

    [Fact]
    public void CarriedState_AfterChunks_IsTheFinalStateOfOneForwardOverTheWholeStream_AndResetStartsOver()
    {
        const int steps = 5, batch = 2, chunks = 3;
        using LanguageModel model = Small(CellType.Gru);
        int[] all = ModelReference.Tokens(new TestRandom(8), chunks * steps * batch, 0, 6);
        for (int c = 0; c < chunks; c++)
        {
            ReadOnlySpan<int> chunk = all.AsSpan(c * steps * batch, steps * batch);
            model.ForwardBackward(chunk, steps, batch, chunk);
        }

        LanguageModelInference inference = model.ToInference();
        var x = new float[all.Length * 3];
        inference.Embedding.Lookup(all, x);
        var y = new float[all.Length * 5];
        var hN = new float[batch * 5];
        inference.Network.Forward(x, chunks * steps, batch, y, hN: hN);
        Assert.Equal(hN, model.CarriedHidden.ToArray());

        model.ResetState();
        Assert.True(model.CarriedHidden.IsEmpty);
        model.ForwardBackward(all.AsSpan(0, 3), 1, 3, all.AsSpan(0, 3));   // any batch after a reset
        Assert.Equal(15, model.CarriedHidden.Length);
    }

    [Fact]
    public void Evaluate_EqualsTheTrainingLossOfOneChunk_AndTheProbabilitiesOfAPrimedGenerator()
    {
        using LanguageModel model = Small();
        int[] tokens = ModelReference.Tokens(new TestRandom(5), 9, 0, 6);
        LanguageModelInference inference = model.ToInference();
        LanguageModelEvaluation evaluation = inference.Evaluate(tokens);
        double loss = model.ForwardBackward(tokens.AsSpan(0, 8), 8, 1, tokens.AsSpan(1)).Loss;
        Assert.Equal(loss, evaluation.MeanLoss);
        Assert.Equal(8, evaluation.Predictions);
        Assert.Equal(Math.Exp(loss), evaluation.Perplexity);

        TokenGenerator generator = inference.CreateGenerator();
        var p = new float[6];
        double sum = 0;
        for (int t = 0; t < 8; t++)
        {
            generator.Prime(tokens.AsSpan(t, 1));
            generator.NextTokenProbabilities(p);
            Assert.Equal(1.0, p.Sum(v => (double)v), 1e-6);
            sum -= Math.Log(p[tokens[t + 1]]);
        }

        Assert.Equal(evaluation.MeanLoss, sum / 8, 1e-5);
    }

    [Fact]
    public void TrainingChunk_AllocatesNothingAfterWarmUp()
    {
        using LanguageModel model = Small();
        int[] tokens = ModelReference.Tokens(new TestRandom(2), 24, 0, 6);
        AllocationAssert.None(() =>
        {
            model.ForwardBackward(tokens, 8, 3, tokens);
            model.Parameters.ZeroGradients();
        });
    }

    [Fact]
    public void GeneratedToken_AllocatesNothingAfterWarmUp_GreedyAndSampled()
    {
        using LanguageModel model = Small();
        LanguageModelInference inference = model.ToInference();
        foreach (SamplingOptions sampling in new[] { SamplingOptions.GreedyDecoding, new SamplingOptions { Temperature = 0.8f, TopK = 3, Seed = 4 } })
        {
            TokenGenerator generator = inference.CreateGenerator(sampling);
            generator.Prime([1, 2, 3]);
            AllocationAssert.None(() => generator.Next());
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < 1000; i++)
            {
                generator.Next();
            }

            output.WriteLine($"{sampling}: {watch.Elapsed.TotalMicroseconds / 1000:F2} µs per token");
        }
    }

    [Fact]
    public void Validation_NamesTheParameter()
    {
        using LanguageModel model = Small();
        int[] ok = [0, 1, 2, 3];
        Assert.Equal("tokens", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward([0, 1, 6, 3], 2, 2, ok).Loss).ParamName);
        Assert.Equal("tokens", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward([0, -1, 2, 3], 2, 2, ok).Loss).ParamName);
        Assert.Equal("targets", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(ok, 2, 2, [0, 1, 2, 7]).Loss).ParamName);
        Assert.Equal("tokens", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(ok, 3, 2, ok).Loss).ParamName);
        Assert.Equal("steps", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward([], 0, 2, []).Loss).ParamName);
        Assert.Equal("batch", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward([], 1, 0, []).Loss).ParamName);
        Assert.True(double.IsNaN(model.ForwardBackward(ok, 2, 2, [-100, -100, -100, -100]).Loss));   // nothing counted
        Assert.Equal("batch", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(ok, 1, 4, ok).Loss).ParamName);   // carried batch is 2

        LanguageModelInference inference = model.ToInference();
        TokenGenerator generator = inference.CreateGenerator();
        Assert.Throws<InvalidOperationException>(() => generator.Next());
        Assert.Equal("prompt", Assert.ThrowsAny<ArgumentException>(() => generator.Prime([0, 6])).ParamName);
        Assert.Equal("prompt", Assert.ThrowsAny<ArgumentException>(() => generator.Prime([])).ParamName);
        Assert.False(generator.IsPrimed);
        Assert.Equal("probabilities", Assert.ThrowsAny<ArgumentException>(() => { generator.Prime([1]); generator.NextTokenProbabilities(new float[5]); }).ParamName);
        Assert.Equal("tokens", Assert.ThrowsAny<ArgumentException>(() => inference.Evaluate([1])).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => inference.CreateGenerator(new SamplingOptions { TopK = 7 })).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => inference.CreateGenerator(new SamplingOptions { Temperature = 0 })).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => inference.CreateGenerator(new SamplingOptions { Temperature = -1, TopK = 2 })).ParamName);
        Assert.NotNull(inference.CreateGenerator(new SamplingOptions { Greedy = true, Temperature = 0 }));
        Assert.Equal("head", Assert.ThrowsAny<ArgumentException>(() => new LanguageModelInference(model.Options, inference.Embedding, inference.Network, new DenseLayer(5, 4, new float[20], [], OutputActivation.Identity))).ParamName);
    }
}
