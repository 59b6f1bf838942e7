using Rnn.Simd.Cells;
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
public sealed class TrainableJordanNetworkTests(ITestOutputHelper output)
{
    private const ulong Seed = 5;   // with ratio 0.5 and T = 6, steps 1 … 5 draw both kinds (asserted)

    public static TheoryData<Nonlinearity, OutputActivation, double> GradientCases()
    {
        var data = new TheoryData<Nonlinearity, OutputActivation, double>();
        foreach (double ratio in new[] { 0.0, 0.5, 1.0 })
        {
            data.Add(Nonlinearity.Tanh, OutputActivation.Identity, ratio);
            data.Add(Nonlinearity.Sigmoid, OutputActivation.Sigmoid, ratio);
            data.Add(Nonlinearity.Tanh, OutputActivation.Softmax, ratio);
            data.Add(Nonlinearity.Relu, OutputActivation.Identity, ratio);
        }

        return data;
    }

    public static TheoryData<Nonlinearity, OutputActivation, bool> ForwardCases() => new()
    {
        { Nonlinearity.Tanh, OutputActivation.Identity, true },
        { Nonlinearity.Sigmoid, OutputActivation.Sigmoid, true },
        { Nonlinearity.Relu, OutputActivation.Softmax, true },
        { Nonlinearity.Identity, OutputActivation.Identity, false },
        { Nonlinearity.Tanh, OutputActivation.Softmax, false },
    };

    /// <summary>A network with its own set, every value uniform in ±<paramref name="scale"/>.</summary>
    private static TrainableJordanNetwork Random(JordanNetworkOptions o, ulong seed, bool bias = true, float scale = 0.6f)
    {
        TrainableJordanNetwork network = TrainableJordanNetwork.Create(o, "jordan.", bias);
        new TestRandom(seed).Fill(network.Parameters.Values, -scale, scale);
        network.Parameters.MarkChanged();
        return network;
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void Forward_RatioOneAndZero_AreBitIdenticalToJordanNetwork(Nonlinearity hidden, OutputActivation activation, bool bias)
    {
        var o = new JordanNetworkOptions { InputSize = 5, HiddenSize = 11, OutputSize = 4, HiddenActivation = hidden, OutputActivation = activation };
        TrainableJordanNetwork network = Random(o, 1, bias);
        JordanNetwork inference = network.ToInferenceNetwork();
        const int steps = 9, batch = 3;
        var random = new TestRandom(2);
        float[] x = random.Array(steps * batch * 5, -2f, 2f), targets = random.Array(steps * batch * 4), initial = random.Array(batch * 4);
        using JordanTape tape = network.CreateTape();
        foreach (float[]? y0 in new[] { null, initial })
        {
            foreach (bool forced in new[] { false, true })
            {
                float[] expected = new float[steps * batch * 4], actual = new float[expected.Length];
                float[] expectedHidden = new float[steps * batch * 11], actualHidden = new float[expectedHidden.Length];
                inference.Forward(x, steps, batch, expected, y0, expectedHidden, forced ? targets : default);
                network.Forward(tape, x, steps, batch, actual, targets, forced ? 1 : 0, seed: 99, y0, actualHidden);
                Assert.Equal(Bits(expected), Bits(actual));
                Assert.Equal(Bits(expectedHidden), Bits(actualHidden));
                for (int t = 0; t < steps; t++)
                {
                    Assert.Equal(forced && t > 0, tape.WasTeacherForced(t));
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Backward_MatchesCentralDifferencesOfTheDoubleReference(Nonlinearity hidden, OutputActivation activation, double ratio)
    {
        const int steps = 6, batch = 2;
        var o = new JordanNetworkOptions { InputSize = 3, HiddenSize = 5, OutputSize = 3, HiddenActivation = hidden, OutputActivation = activation };
        TrainableJordanNetwork network = Random(o, 3, scale: 0.8f);
        var random = new TestRandom(4);
        float[] x = random.Array(steps * batch * 3), targets = random.Array(steps * batch * 3), initial = random.Array(batch * 3);
        float[] g = random.Array(steps * batch * 3);
        using JordanTape tape = network.CreateTape();
        var y = new float[g.Length];
        network.Forward(tape, x, steps, batch, y, targets, ratio, Seed, initial);
        var gradX = new float[x.Length];
        var gradInitial = new float[initial.Length];
        network.Backward(tape, g, gradX, gradInitial);
        bool[] forced = [.. Enumerable.Range(0, steps).Select(tape.WasTeacherForced)];
        if (ratio is > 0 and < 1)
        {
            Assert.Contains(true, forced);
            Assert.Contains(false, forced.Skip(1));
        }

        // The reference, in double; forced steps read the targets, constants the checks leave alone.
        ParameterSet set = network.Parameters;
        Dictionary<string, double[]> p = set.Tensors.ToDictionary(t => t.Name, t => FiniteDifference.ToDouble(set.Value(t)));
        double[] xd = FiniteDifference.ToDouble(x), initialD = FiniteDifference.ToDouble(initial);
        double[] Run() => ReferenceJordan.Forward(
            o, p["jordan.weight_in"], p["jordan.weight_rec"], p["jordan.bias"], p["jordan.output.weight"], p["jordan.output.bias"],
            xd, steps, batch, initialD, targets, t => forced[t]);
        double Loss() => FiniteDifference.Dot(Run(), g);

        FiniteDifference.AssertClose(y, Run(), 1e-5, "y");
        string label = $"{hidden}/{activation} ratio {ratio}";
        double worst = FiniteDifference.Check(output, $"{label} input", Loss, xd, gradX).MaxRelativeError;
        worst = Math.Max(worst, FiniteDifference.Check(output, $"{label} initial output", Loss, initialD, gradInitial).MaxRelativeError);
        foreach (ParameterTensor tensor in set.Tensors)
        {
            worst = Math.Max(worst, FiniteDifference.Check(output, $"{label} {tensor.Name}", Loss, p[tensor.Name], set.Gradient(tensor)).MaxRelativeError);
        }

        output.WriteLine($"{label}: worst error over every gradient {worst:E2}");
    }

    [Fact]
    public void TeacherForcing_IsSeededPerStep_AndHonoursTheRatio()
    {
        for (int t = 0; t < 200; t++)
        {
            Assert.False(TrainableJordanNetwork.IsTeacherForced(0, 17, t));
            Assert.Equal(t > 0, TrainableJordanNetwork.IsTeacherForced(1, 17, t));
        }

        int forced = Enumerable.Range(1, 10_000).Count(t => TrainableJordanNetwork.IsTeacherForced(0.3, 17, t));
        Assert.InRange(forced, 2_800, 3_200);
        int differ = Enumerable.Range(1, 1_000).Count(t => TrainableJordanNetwork.IsTeacherForced(0.5, 17, t) != TrainableJordanNetwork.IsTeacherForced(0.5, 18, t));
        Assert.InRange(differ, 400, 600);   // another seed, other draws

        var o = new JordanNetworkOptions { InputSize = 2, HiddenSize = 3, OutputSize = 2 };
        TrainableJordanNetwork network = Random(o, 6);
        using JordanTape tape = network.CreateTape();
        const int steps = 40;
        network.Forward(tape, new float[steps * 2], steps, 1, new float[steps * 2], new float[steps * 2], 0.5, 23);
        for (int t = 0; t < steps; t++)
        {
            Assert.Equal(TrainableJordanNetwork.IsTeacherForced(0.5, 23, t), tape.WasTeacherForced(t));
        }
    }

    [Fact]
    public void Backward_Adds_AndRefusesAStaleOrMissingRecord()
    {
        var o = new JordanNetworkOptions { InputSize = 4, HiddenSize = 6, OutputSize = 3, OutputActivation = OutputActivation.Softmax };
        TrainableJordanNetwork network = Random(o, 7);
        const int steps = 5, batch = 2;
        var random = new TestRandom(8);
        float[] x = random.Array(steps * batch * 4), targets = random.Array(steps * batch * 3), g = random.Array(steps * batch * 3);
        using JordanTape tape = network.CreateTape();
        Assert.Throws<InvalidOperationException>(() => network.Backward(tape, g));
        Assert.Throws<InvalidOperationException>(() => tape.WasTeacherForced(0));
        network.Forward(tape, x, steps, batch, new float[g.Length], targets, 0.5, 3);
        float[] once = new float[x.Length], twice = new float[x.Length];
        network.Backward(tape, g, once);
        float[] parametersOnce = network.Parameters.Gradients.ToArray();
        network.Backward(tape, g, twice);
        network.Backward(tape, g, twice);
        float[] parametersThrice = network.Parameters.Gradients.ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(2 * once[i], twice[i], 1e-6f * (1 + Math.Abs(once[i])));
        }

        for (int i = 0; i < parametersOnce.Length; i++)
        {
            Assert.Equal(3 * parametersOnce[i], parametersThrice[i], 1e-6f * (1 + Math.Abs(parametersOnce[i])));
        }

        network.Parameters.MarkChanged();
        Assert.Throws<InvalidOperationException>(() => network.Backward(tape, g));
    }

    [Fact]
    public void Forward_RepacksWhenTheParametersChange()
    {
        var o = new JordanNetworkOptions { InputSize = 3, HiddenSize = 4, OutputSize = 2 };
        TrainableJordanNetwork network = Random(o, 9);
        float[] x = new TestRandom(10).Array(3 * 3);
        using JordanTape tape = network.CreateTape();
        float[] before = new float[6], after = new float[6], expected = new float[6];
        network.Forward(tape, x, 3, 1, before);
        new TestRandom(11).Fill(network.Parameters.Values);
        network.Parameters.MarkChanged();
        network.Forward(tape, x, 3, 1, after);
        network.ToInferenceNetwork().Forward(x, 3, 1, expected);
        Assert.Equal(Bits(expected), Bits(after));
        Assert.NotEqual(Bits(before), Bits(after));
    }

    [Fact]
    public void ForwardAndBackward_AllocateNothing()
    {
        var o = new JordanNetworkOptions { InputSize = 6, HiddenSize = 10, OutputSize = 4, OutputActivation = OutputActivation.Softmax };
        TrainableJordanNetwork network = Random(o, 12);
        const int steps = 7, batch = 3;
        var random = new TestRandom(13);
        float[] x = random.Array(steps * batch * 6), targets = random.Array(steps * batch * 4), g = random.Array(steps * batch * 4);
        float[] y = new float[g.Length], dx = new float[x.Length], dy0 = new float[batch * 4];
        using JordanTape tape = network.CreateTape();
        ulong seed = 0;
        AllocationAssert.None(() =>
        {
            network.Forward(tape, x, steps, batch, y, targets, 0.5, seed++);
            network.Backward(tape, g, dx, dy0);
        });
    }

    [Fact]
    public void EveryRental_IsReturned()
    {
        var pool = new TrackingArrayPool<float>();
        var o = new JordanNetworkOptions { InputSize = 30, HiddenSize = 40, OutputSize = 20, OutputActivation = OutputActivation.Softmax };
        TrainableJordanNetwork network = TrainableJordanNetwork.Create(o, pool: pool);
        new TestRandom(18).Fill(network.Parameters.Values, -0.2f, 0.2f);
        network.Parameters.MarkChanged();
        const int steps = 12, batch = 16;
        var random = new TestRandom(19);
        float[] x = random.Array(steps * batch * 30), targets = random.Array(steps * batch * 20), g = random.Array(steps * batch * 20);
        using var team = new ThreadTeam(2);
        JordanTape tape = network.CreateTape();
        network.Forward(tape, x, steps, batch, new float[g.Length], targets, 0.5, 1, threads: team);
        network.Backward(tape, g, new float[x.Length], threads: team);
        network.Output.Backward(new float[batch * 40], new float[batch * 20], g.AsSpan(0, batch * 20), batch, threads: team);
        Assert.Equal(1, pool.Outstanding);   // the tape's buffer
        network.Forward(tape, x.AsSpan(0, 2 * batch * 30), 2, batch, new float[2 * batch * 20]);   // smaller: no new rental
        Assert.Equal(1, pool.Outstanding);
        tape.Dispose();
        Assert.Equal(0, pool.Outstanding);
        Assert.True(pool.Rented > 1);
    }

    [Fact]
    public void TwoThreads_GiveTheSameBits()
    {
        // The products over all T·B rows are large enough to split (GemmBlocking.MinParallelMacs).
        var o = new JordanNetworkOptions { InputSize = 40, HiddenSize = 48, OutputSize = 24, OutputActivation = OutputActivation.Sigmoid };
        const int steps = 16, batch = 8;
        var random = new TestRandom(14);
        float[] x = random.Array(steps * batch * 40), targets = random.Array(steps * batch * 24), g = random.Array(steps * batch * 24);
        float[] initial = random.Array(batch * 24);
        using var team = new ThreadTeam(2);
        (float[] Y, float[] Dx, float[] Dy0, float[] Gradients) Run(ThreadTeam? threads)
        {
            TrainableJordanNetwork network = Random(o, 15, scale: 0.2f);
            using JordanTape tape = network.CreateTape();
            float[] y = new float[g.Length], dx = new float[x.Length], dy0 = new float[initial.Length];
            network.Forward(tape, x, steps, batch, y, targets, 0.5, 4, initial, threads: threads);
            network.Backward(tape, g, dx, dy0, threads);
            return (y, dx, dy0, network.Parameters.Gradients.ToArray());
        }

        var one = Run(null);
        var two = Run(team);
        Assert.Equal(Bits(one.Y), Bits(two.Y));
        Assert.Equal(Bits(one.Dx), Bits(two.Dx));
        Assert.Equal(Bits(one.Dy0), Bits(two.Dy0));
        Assert.Equal(Bits(one.Gradients), Bits(two.Gradients));
    }

    [Fact]
    public void Specs_NameTheTensors()
    {
        var o = new JordanNetworkOptions { InputSize = 3, HiddenSize = 4, OutputSize = 2 };
        IReadOnlyList<ParameterSpec> specs = TrainableJordanNetwork.Specs(o, "j.");
        Assert.Equal(["j.weight_in", "j.weight_rec", "j.bias", "j.output.weight", "j.output.bias"], specs.Select(s => s.Name));
        Assert.Equal([[4, 3], [4, 2], [4], [2, 4], [2]], specs.Select(s => s.Shape));
        Assert.Equal(["j.weight_in", "j.weight_rec", "j.output.weight"], TrainableJordanNetwork.Specs(o, "j.", bias: false).Select(s => s.Name));
    }

    [Fact]
    public void InvalidArguments_NameTheParameter()
    {
        var o = new JordanNetworkOptions { InputSize = 2, HiddenSize = 3, OutputSize = 2 };
        TrainableJordanNetwork network = Random(o, 16);
        TrainableJordanNetwork other = Random(o, 17);
        using JordanTape tape = network.CreateTape();
        using JordanTape foreign = other.CreateTape();
        float[] x = new float[2 * 2], y = new float[2 * 2];
        Assert.Equal("options", Assert.ThrowsAny<ArgumentException>(() => TrainableJordanNetwork.Specs(o with { HiddenSize = 0 })).ParamName);
        Assert.Equal("options", Assert.ThrowsAny<ArgumentException>(() => new TrainableJordanNetwork(o with { OutputActivation = (OutputActivation)7 }, network.Parameters, "jordan.")).ParamName);
        Assert.Equal("parameters", Assert.ThrowsAny<ArgumentException>(() => new TrainableJordanNetwork(o, network.Parameters, "other.")).ParamName);
        Assert.Equal("parameters", Assert.ThrowsAny<ArgumentException>(() => new TrainableJordanNetwork(o with { InputSize = 3 }, network.Parameters, "jordan.")).ParamName);
        Assert.Equal("tape", Assert.ThrowsAny<ArgumentException>(() => network.Forward(foreign, x, 2, 1, y)).ParamName);
        Assert.Equal("tape", Assert.ThrowsAny<ArgumentException>(() => network.Backward(foreign, y)).ParamName);
        Assert.Equal("steps", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, -1, 1, y)).ParamName);
        Assert.Equal("batch", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 0, y)).ParamName);
        Assert.Equal("input", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, new float[3], 2, 1, y)).ParamName);
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, new float[3])).ParamName);
        Assert.Equal("targets", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, teacherForcingRatio: 0.5)).ParamName);
        Assert.Equal("targets", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, new float[3])).ParamName);
        Assert.Equal("teacherForcingRatio", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, y, 1.5)).ParamName);
        Assert.Equal("teacherForcingRatio", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, y, double.NaN)).ParamName);
        Assert.Equal("initialOutput", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, initialOutput: new float[3])).ParamName);
        Assert.Equal("hidden", Assert.ThrowsAny<ArgumentException>(() => network.Forward(tape, x, 2, 1, y, hidden: new float[5])).ParamName);
        network.Forward(tape, x, 2, 1, y);
        Assert.Equal("gradOutput", Assert.ThrowsAny<ArgumentException>(() => network.Backward(tape, new float[3])).ParamName);
        Assert.Equal("gradInput", Assert.ThrowsAny<ArgumentException>(() => network.Backward(tape, y, new float[3])).ParamName);
        Assert.Equal("gradInitialOutput", Assert.ThrowsAny<ArgumentException>(() => network.Backward(tape, y, gradInitialOutput: new float[3])).ParamName);
        Assert.Equal("step", Assert.ThrowsAny<ArgumentException>(() => tape.WasTeacherForced(2)).ParamName);
        tape.Dispose();
        Assert.Throws<ObjectDisposedException>(() => network.Forward(tape, x, 2, 1, y));
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
