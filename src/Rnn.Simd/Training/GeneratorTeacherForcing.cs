using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Training;

/// <summary>How a generator's own output becomes its next input on a step that is not teacher-forced.</summary>
public enum GeneratorFeedback
{
    /// <summary>x_t = y_{t−1}: continuous values (the head's outputs are the next inputs).</summary>
    Identity,

    /// <summary>x_t = one-hot(argmax y_{t−1}): symbols (the head scores the next symbol; ties go to the lowest index).</summary>
    ArgmaxOneHot,
}

/// <summary>
/// Teacher forcing with a ratio for generators (one-to-many and sequence generation): a recurrent stack and a dense
/// head whose output at step t predicts the input of step t + 1. Training feeds each step either the true input
/// (teacher-forced) or what the generator itself produced at the step before (scheduled sampling).
/// </summary>
/// <remarks>
/// <para><see cref="BuildInputs"/> runs the generator step by step to decide the inputs; a recording forward pass over
/// those inputs then reproduces the same outputs bit for bit (a streamed step equals the same step of a whole
/// sequence), and backward trains on them. A fed-back output is a constant for backward: an argmax has no gradient,
/// and for <see cref="GeneratorFeedback.Identity"/> this is the usual stop-gradient of scheduled sampling.</para>
/// <para>Which steps are forced is <see cref="TrainableJordanNetwork.IsTeacherForced"/>(ratio, seed, t): step 0 always
/// gets the true first input, ratio 1 forces every step (plain teacher forcing), ratio 0 none (free running).</para>
/// </remarks>
public static class GeneratorTeacherForcing
{
    /// <summary>
    /// Builds the inputs [T, B, X] of one training sequence: x_0 = teacher[0]; for t ≥ 1, teacher[t] when step t is
    /// forced, else feedback(y_{t−1}) with y the head's output on the generator's own run over these inputs.
    /// </summary>
    /// <param name="network">The generator's recurrent stack (unidirectional).</param>
    /// <param name="head">The head: hidden features → O outputs, O = X.</param>
    /// <param name="scratchTape">A tape of <paramref name="network"/> for the step-by-step run (its record is overwritten).</param>
    /// <param name="teacher">The true inputs [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="ratio">Probability in [0, 1] that a step t ≥ 1 is teacher-forced.</param>
    /// <param name="seed">Seeds the per-step decisions.</param>
    /// <param name="feedback">How an output becomes an input.</param>
    /// <param name="inputs">Receives the inputs [T, B, X].</param>
    /// <param name="h0">Initial h [L, B, Hout], or empty for zeros.</param>
    /// <param name="c0">LSTM: initial c [L, B, H], or empty for zeros.</param>
    /// <param name="threads">Threads for the matrix products.</param>
    public static void BuildInputs(
        TrainableRecurrentNetwork network, TrainableDenseLayer head, RecurrentTape scratchTape,
        ReadOnlySpan<float> teacher, int steps, int batch, double ratio, ulong seed, GeneratorFeedback feedback, Span<float> inputs,
        ReadOnlySpan<float> h0 = default, ReadOnlySpan<float> c0 = default, ThreadTeam? threads = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(scratchTape);
        RecurrentNetworkOptions o = network.Options;
        int x = o.InputSize, features = o.LayerOutputSize;
        if (o.Bidirectional)
        {
            ThrowHelper.Argument(nameof(network), "A generator runs forward in time; a bidirectional network can not.");
        }

        if (head.Inputs != features || head.Outputs != x)
        {
            ThrowHelper.Argument(nameof(head), $"The head must map the network's {features} features to its {x} inputs; it maps {head.Inputs} to {head.Outputs}.");
        }

        if (!(ratio >= 0 && ratio <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(ratio), $"Must be in [0, 1], was {ratio}.");
        }

        if (!Enum.IsDefined(feedback))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(feedback), $"{feedback} is not a feedback kind.");
        }

        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        long size = (long)steps * batch * x;
        ThrowHelper.ThrowIfLengthIsNot(teacher.Length, size, nameof(teacher), "T·B·X");
        ThrowHelper.ThrowIfLengthIsNot(inputs.Length, size, nameof(inputs), "T·B·X");
        int stateSize = o.Layers * batch * o.OutputSize, cellSize = o.Cell == CellType.Lstm ? o.Layers * batch * o.HiddenSize : 0;
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(h0.Length, stateSize, nameof(h0), "L·B·Hout");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(c0.Length, cellSize, nameof(c0), "L·B·H (LSTM only)");

        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(stateSize + cellSize + (batch * features) + (batch * x), network.Pool);
        Span<float> all = scratch.Span;
        Span<float> h = all[..stateSize], c = all.Slice(stateSize, cellSize);
        Span<float> features1 = all.Slice(stateSize + cellSize, batch * features), y = all.Slice(stateSize + cellSize + (batch * features), batch * x);
        Layers.DirectionRun.Start(h0, h);
        Layers.DirectionRun.Start(c0, c);
        int row = batch * x;
        for (int t = 0; t < steps; t++)
        {
            Span<float> xt = inputs.Slice(t * row, row);
            if (t == 0 || TrainableJordanNetwork.IsTeacherForced(ratio, seed, t))
            {
                teacher.Slice(t * row, row).CopyTo(xt);
            }
            else
            {
                Feed(y, xt, batch, x, feedback);
            }

            if (t + 1 < steps)
            {
                // One streamed step (the state advances in place); the head only when the next step needs the output.
                network.Forward(scratchTape, xt, 1, batch, features1, h, c, h, c, threads: threads);
                if (!TrainableJordanNetwork.IsTeacherForced(ratio, seed, t + 1))
                {
                    head.Forward(features1, batch, y, threads);
                }
            }
        }
    }

    private static void Feed(ReadOnlySpan<float> y, Span<float> x, int batch, int size, GeneratorFeedback feedback)
    {
        if (feedback == GeneratorFeedback.Identity)
        {
            y.CopyTo(x);
            return;
        }

        x.Clear();
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> scores = y.Slice(b * size, size);
            int best = 0;
            for (int i = 1; i < size; i++)
            {
                if (scores[i] > scores[best])
                {
                    best = i;
                }
            }

            x[(b * size) + best] = 1f;
        }
    }
}
