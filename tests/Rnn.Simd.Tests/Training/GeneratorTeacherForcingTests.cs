using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>Teacher forcing with a ratio for generators: which input each step gets, and that training sees the generator's own run.</summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class GeneratorTeacherForcingTests
{
    private const int Steps = 9, Batch = 3, Symbols = 5, Hidden = 8;

    [Theory]
    [InlineData(1.0, GeneratorFeedback.ArgmaxOneHot)]
    [InlineData(0.0, GeneratorFeedback.ArgmaxOneHot)]
    [InlineData(0.5, GeneratorFeedback.ArgmaxOneHot)]
    [InlineData(0.0, GeneratorFeedback.Identity)]
    [InlineData(0.3, GeneratorFeedback.Identity)]
    public void EveryStep_GetsTheTeacherOrTheGeneratorsOwnPreviousOutput(double ratio, GeneratorFeedback feedback)
    {
        (TrainableRecurrentNetwork network, TrainableDenseLayer head) = Generator();
        float[] teacher = OneHotSequence(new TestRandom(4));
        var inputs = new float[teacher.Length];
        using RecurrentTape scratch = network.CreateTape(), tape = network.CreateTape();
        GeneratorTeacherForcing.BuildInputs(network, head, scratch, teacher, Steps, Batch, ratio, seed: 11, feedback, inputs);

        // A recording forward over the built inputs: its outputs are the generator's own run.
        var features = new float[Steps * Batch * Hidden];
        var y = new float[Steps * Batch * Symbols];
        network.Forward(tape, inputs, Steps, Batch, features);
        head.Forward(features, Steps * Batch, y);
        int row = Batch * Symbols, forced = 0;
        for (int t = 0; t < Steps; t++)
        {
            float[] expected = new float[row];
            bool isForced = t == 0 || TrainableJordanNetwork.IsTeacherForced(ratio, 11, t);
            if (isForced)
            {
                Array.Copy(teacher, t * row, expected, 0, row);
                forced += t > 0 ? 1 : 0;
            }
            else if (feedback == GeneratorFeedback.Identity)
            {
                Array.Copy(y, (t - 1) * row, expected, 0, row);
            }
            else
            {
                for (int b = 0; b < Batch; b++)
                {
                    ReadOnlySpan<float> scores = y.AsSpan(((t - 1) * row) + (b * Symbols), Symbols);
                    expected[(b * Symbols) + scores.IndexOf(MaxOf(scores))] = 1f;
                }
            }

            Assert.Equal(expected, inputs.AsSpan(t * row, row).ToArray());
        }

        if (ratio == 1.0)
        {
            Assert.Equal(teacher, inputs);
        }
        else if (ratio == 0.0)
        {
            Assert.Equal(0, forced);
        }
        else
        {
            Assert.InRange(forced, 1, Steps - 2);   // a mix for this seed
        }
    }

    [Fact]
    public void BuildingInputs_AllocatesNothing_AndBadArgumentsAreNamed()
    {
        (TrainableRecurrentNetwork network, TrainableDenseLayer head) = Generator();
        float[] teacher = OneHotSequence(new TestRandom(5));
        var inputs = new float[teacher.Length];
        using RecurrentTape scratch = network.CreateTape();
        AllocationAssert.None(() => GeneratorTeacherForcing.BuildInputs(network, head, scratch, teacher, Steps, Batch, 0.5, 3, GeneratorFeedback.ArgmaxOneHot, inputs));
        Assert.Equal("ratio", Assert.Throws<ArgumentOutOfRangeException>(() => GeneratorTeacherForcing.BuildInputs(network, head, scratch, teacher, Steps, Batch, 1.5, 3, GeneratorFeedback.Identity, inputs)).ParamName);
        Assert.Equal("inputs", Assert.Throws<ArgumentException>(() => GeneratorTeacherForcing.BuildInputs(network, head, scratch, teacher, Steps, Batch, 0.5, 3, GeneratorFeedback.Identity, new float[4])).ParamName);
        var wrongHead = TrainableDenseLayer.Create(Hidden, Symbols + 1, OutputActivation.Identity);
        Assert.Equal("head", Assert.Throws<ArgumentException>(() => GeneratorTeacherForcing.BuildInputs(network, wrongHead, scratch, teacher, Steps, Batch, 0.5, 3, GeneratorFeedback.Identity, inputs)).ParamName);
    }

    private static (TrainableRecurrentNetwork, TrainableDenseLayer) Generator()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = Symbols, HiddenSize = Hidden, Layers = 2 };
        ParameterSet set = ParameterSet.Create([.. o.ParameterSpecs("rnn."), .. TrainableDenseLayer.Specs(Hidden, Symbols, "head.")]);
        Initializers.Apply(set, RecurrentInitialization.PyTorch, 9);
        return (new TrainableRecurrentNetwork(o, set, "rnn."), new TrainableDenseLayer(Hidden, Symbols, OutputActivation.Identity, set, "head."));
    }

    private static float[] OneHotSequence(TestRandom random)
    {
        var x = new float[Steps * Batch * Symbols];
        for (int i = 0; i < Steps * Batch; i++)
        {
            x[(i * Symbols) + (int)(random.Array(1, 0, Symbols - 0.001f)[0])] = 1f;
        }

        return x;
    }

    private static float MaxOf(ReadOnlySpan<float> values)
    {
        float max = values[0];
        foreach (float v in values)
        {
            max = Math.Max(max, v);
        }

        return max;
    }
}
