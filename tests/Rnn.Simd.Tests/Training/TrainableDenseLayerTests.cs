using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class TrainableDenseLayerTests(ITestOutputHelper output)
{
    public static TheoryData<OutputActivation, bool> Activations() => new()
    {
        { OutputActivation.Identity, true },
        { OutputActivation.Sigmoid, true },
        { OutputActivation.Softmax, true },
        { OutputActivation.Identity, false },
        { OutputActivation.Softmax, false },
    };

    /// <summary>A layer with its own set, every value uniform in ±<paramref name="scale"/>.</summary>
    internal static TrainableDenseLayer Random(int inputs, int outputs, OutputActivation activation, bool bias, ulong seed, float scale = 0.5f)
    {
        TrainableDenseLayer layer = TrainableDenseLayer.Create(inputs, outputs, activation, "head.", bias);
        new TestRandom(seed).Fill(layer.Parameters.Values, -scale, scale);
        layer.Parameters.MarkChanged();
        return layer;
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Forward_IsBitIdentical_ToTheInferenceLayer(OutputActivation activation, bool bias)
    {
        TrainableDenseLayer layer = Random(7, 5, activation, bias, 1);
        const int rows = 9;
        float[] z = new TestRandom(2).Array(rows * 7, -2f, 2f);
        float[] trained = new float[rows * 5], inferred = new float[rows * 5];
        layer.Forward(z, rows, trained);
        layer.ToInferenceLayer().Forward(z, rows, inferred);
        Assert.Equal(Bits(inferred), Bits(trained));
        Assert.Equal(bias, layer.HasBias);
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Backward_MatchesCentralDifferencesOfTheDoubleReference(OutputActivation activation, bool bias)
    {
        const int inputs = 4, outputs = 3, rows = 5;
        TrainableDenseLayer layer = Random(inputs, outputs, activation, bias, 3, scale: 1f);
        var random = new TestRandom(4);
        float[] z = random.Array(rows * inputs, -2f, 2f), g = random.Array(rows * outputs);
        var y = new float[rows * outputs];
        var gradZ = new float[z.Length];
        layer.Forward(z, rows, y);
        layer.Backward(z, y, g, rows, gradZ);

        ParameterSet set = layer.Parameters;
        double[] w = FiniteDifference.ToDouble(set.Value("head.weight"));
        double[] b = bias ? FiniteDifference.ToDouble(set.Value("head.bias")) : [];
        double[] zd = FiniteDifference.ToDouble(z);
        double[] Run()
        {
            var result = new double[rows * outputs];
            for (int r = 0; r < rows; r++)
            {
                ReferenceJordan.Dense(w, b, activation, zd.AsSpan(r * inputs, inputs), outputs).CopyTo(result, r * outputs);
            }

            return result;
        }

        double Loss() => FiniteDifference.Dot(Run(), g);

        FiniteDifference.AssertClose(y, Run(), 1e-6, "y");
        FiniteDifference.Check(output, $"{activation} weight", Loss, w, set.Gradient("head.weight"));
        FiniteDifference.Check(output, $"{activation} input", Loss, zd, gradZ);
        if (bias)
        {
            FiniteDifference.Check(output, $"{activation} bias", Loss, b, set.Gradient("head.bias"));
        }
    }

    [Fact]
    public void Backward_Adds_AndWithoutAnInputGradientStillGivesTheParameterGradients()
    {
        const int inputs = 6, outputs = 4, rows = 7;
        TrainableDenseLayer layer = Random(inputs, outputs, OutputActivation.Softmax, bias: true, 5);
        var random = new TestRandom(6);
        float[] z = random.Array(rows * inputs), g = random.Array(rows * outputs), y = new float[rows * outputs];
        layer.Forward(z, rows, y);
        var once = new float[z.Length];
        layer.Backward(z, y, g, rows, once);
        float[] parametersOnce = layer.Parameters.Gradients.ToArray();

        var twice = new float[z.Length];
        layer.Backward(z, y, g, rows);   // no input gradient wanted
        float[] parametersTwice = layer.Parameters.Gradients.ToArray();
        layer.Backward(z, y, g, rows, twice);
        layer.Backward(z, y, g, rows, twice);
        float[] parametersFour = layer.Parameters.Gradients.ToArray();
        for (int i = 0; i < once.Length; i++)
        {
            Assert.Equal(2 * once[i], twice[i], 1e-6f * (1 + Math.Abs(once[i])));
        }

        for (int i = 0; i < parametersOnce.Length; i++)
        {
            Assert.Equal(4 * parametersOnce[i], parametersFour[i], 1e-6f * (1 + Math.Abs(parametersOnce[i])));
        }

        // The bias sums are formed apart and then added: exactly twice after two calls.
        for (int i = inputs * outputs; i < parametersOnce.Length; i++)
        {
            Assert.Equal(2 * parametersOnce[i], parametersTwice[i]);
        }
    }

    [Fact]
    public void Forward_RepacksWhenTheParametersChange()
    {
        TrainableDenseLayer layer = Random(5, 3, OutputActivation.Sigmoid, bias: true, 7);
        float[] z = new TestRandom(8).Array(2 * 5);
        float[] before = new float[6], after = new float[6], expected = new float[6];
        layer.Forward(z, 2, before);
        new TestRandom(9).Fill(layer.Parameters.Values);
        layer.Parameters.MarkChanged();
        layer.Forward(z, 2, after);
        layer.ToInferenceLayer().Forward(z, 2, expected);
        Assert.Equal(Bits(expected), Bits(after));
        Assert.NotEqual(Bits(before), Bits(after));
    }

    [Fact]
    public void ForwardAndBackward_AllocateNothing()
    {
        const int inputs = 12, outputs = 5, rows = 6;
        TrainableDenseLayer layer = Random(inputs, outputs, OutputActivation.Softmax, bias: true, 10);
        var random = new TestRandom(11);
        float[] z = random.Array(rows * inputs), g = random.Array(rows * outputs), y = new float[rows * outputs], dz = new float[z.Length];
        AllocationAssert.None(() =>
        {
            layer.Forward(z, rows, y);
            layer.Backward(z, y, g, rows, dz);
        });
    }

    [Theory]
    [InlineData(OutputActivation.Identity)]
    [InlineData(OutputActivation.Softmax)]
    public void TwoThreads_GiveTheSameBits(OutputActivation activation)
    {
        // Large enough for the products to split (GemmBlocking.MinParallelMacs).
        const int inputs = 70, outputs = 50, rows = 64;
        var random = new TestRandom(12);
        float[] z = random.Array(rows * inputs), g = random.Array(rows * outputs);
        using var team = new ThreadTeam(2);
        (float[] Y, float[] Dz, float[] Gradients) Run(ThreadTeam? threads)
        {
            TrainableDenseLayer layer = Random(inputs, outputs, activation, bias: true, 13);
            var y = new float[rows * outputs];
            var dz = new float[z.Length];
            layer.Forward(z, rows, y, threads);
            layer.Backward(z, y, g, rows, dz, threads);
            return (y, dz, layer.Parameters.Gradients.ToArray());
        }

        var one = Run(null);
        var two = Run(team);
        Assert.Equal(Bits(one.Y), Bits(two.Y));
        Assert.Equal(Bits(one.Dz), Bits(two.Dz));
        Assert.Equal(Bits(one.Gradients), Bits(two.Gradients));
    }

    [Fact]
    public void Specs_NameTheTensorsAsNnLinear()
    {
        IReadOnlyList<ParameterSpec> specs = TrainableDenseLayer.Specs(4, 3, "fc.");
        Assert.Equal(["fc.weight", "fc.bias"], specs.Select(s => s.Name));
        Assert.Equal([3, 4], specs[0].Shape);
        Assert.Equal([3], specs[1].Shape);
        Assert.Equal(ParameterRole.DenseWeight, specs[0].Role);
        Assert.Equal(ParameterRole.DenseBias, specs[1].Role);
        Assert.Single(TrainableDenseLayer.Specs(4, 3, bias: false));
    }

    [Fact]
    public void InvalidArguments_NameTheParameter()
    {
        TrainableDenseLayer layer = Random(3, 2, OutputActivation.Identity, bias: true, 14);
        ParameterSet set = layer.Parameters;
        float[] z = new float[6], y = new float[4];
        Assert.Equal("inputs", Assert.ThrowsAny<ArgumentException>(() => TrainableDenseLayer.Specs(0, 2)).ParamName);
        Assert.Equal("outputs", Assert.ThrowsAny<ArgumentException>(() => new TrainableDenseLayer(3, 0, OutputActivation.Identity, set, "head.")).ParamName);
        Assert.Equal("activation", Assert.ThrowsAny<ArgumentException>(() => new TrainableDenseLayer(3, 2, (OutputActivation)9, set, "head.")).ParamName);
        Assert.Equal("parameters", Assert.ThrowsAny<ArgumentException>(() => new TrainableDenseLayer(3, 2, OutputActivation.Identity, set, "other.")).ParamName);
        Assert.Equal("parameters", Assert.ThrowsAny<ArgumentException>(() => new TrainableDenseLayer(2, 3, OutputActivation.Identity, set, "head.")).ParamName);
        Assert.Equal("rows", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(z, -1, y)).ParamName);
        Assert.Equal("z", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(new float[5], 2, y)).ParamName);
        Assert.Equal("y", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(z, 2, new float[5])).ParamName);
        Assert.Equal("z", Assert.ThrowsAny<ArgumentException>(() => layer.Backward(new float[5], y, y, 2)).ParamName);
        Assert.Equal("y", Assert.ThrowsAny<ArgumentException>(() => layer.Backward(z, new float[3], y, 2)).ParamName);
        Assert.Equal("gradOutput", Assert.ThrowsAny<ArgumentException>(() => layer.Backward(z, y, new float[3], 2)).ParamName);
        Assert.Equal("gradInput", Assert.ThrowsAny<ArgumentException>(() => layer.Backward(z, y, y, 2, new float[5])).ParamName);
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
