using Rnn.Simd.Internal;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// A first-order optimiser over one <see cref="ParameterSet"/>: each <see cref="Step"/> reads
/// <see cref="ParameterSet.Gradients"/>, updates <see cref="ParameterSet.Values"/> in place and calls
/// <see cref="ParameterSet.MarkChanged"/>. It never zeroes the gradients (call <see cref="ParameterSet.ZeroGradients"/>).
/// </summary>
/// <remarks>
/// <para>
/// The update rules are PyTorch 1.13's <c>torch.optim</c>, single-tensor (<c>foreach=False</c>) CPU path, element by
/// element in float32 with the same operations in the same order: scalars are computed in double as Python does and
/// rounded to float where PyTorch's kernels round them; <c>add(x, alpha=a)</c> and <c>addcmul</c> are fused
/// multiply-adds as PyTorch's AVX2 kernels compute them (checked op by op on its vector body and scalar tail);
/// <c>addcdiv</c> is <c>p + (v·a) / b</c>. The loops are scalar, so the bits are the same for every vector width and
/// thread count.
/// </para>
/// <para>
/// The optimiser's state (moments, momentum buffers) is allocated on the first <see cref="Step"/>, sized to that set,
/// and the optimiser stays bound to it; steps after that allocate nothing.
/// </para>
/// </remarks>
public abstract class Optimizer
{
    private static readonly int s_roleCount = Enum.GetValues<ParameterRole>().Length;

    private double _learningRate;
    private ParameterSet? _set;
    private readonly bool[] _excluded = new bool[s_roleCount];
    private ParameterRole[] _excludedRoles = [];

    private protected Optimizer(double learningRate, double weightDecay)
    {
        ValidateLearningRate(learningRate, nameof(learningRate));
        ValidateNonNegative(weightDecay, nameof(weightDecay));
        _learningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The bias roles (input, recurrent and dense biases): the usual <see cref="WeightDecayExcludedRoles"/>.</summary>
    public static IReadOnlyList<ParameterRole> BiasRoles { get; } = [ParameterRole.InputBias, ParameterRole.RecurrentBias, ParameterRole.DenseBias];

    /// <summary>The learning rate of the next <see cref="Step"/> (PyTorch's <c>lr</c>); schedules set it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, NaN or infinite.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            ValidateLearningRate(value, nameof(value));
            _learningRate = value;
        }
    }

    /// <summary>The weight decay (PyTorch's <c>weight_decay</c>); how it applies depends on the optimiser.</summary>
    public double WeightDecay { get; }

    /// <summary>
    /// Roles that get no weight decay (PyTorch: a parameter group with <c>weight_decay=0</c>). Empty by default,
    /// as in PyTorch, where every parameter decays; <see cref="BiasRoles"/> is the common choice.
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is not a <see cref="ParameterRole"/>.</exception>
    public IReadOnlyList<ParameterRole> WeightDecayExcludedRoles
    {
        get => _excludedRoles;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            Array.Clear(_excluded);
            foreach (ParameterRole role in value)
            {
                if (!Enum.IsDefined(role))
                {
                    ThrowHelper.ArgumentOutOfRange(nameof(WeightDecayExcludedRoles), $"{role} is not a parameter role.");
                }

                _excluded[(int)role] = true;
            }

            _excludedRoles = [.. value.Distinct()];
        }
    }

    /// <summary>Steps taken so far (PyTorch's <c>state['step']</c>); the first <see cref="Step"/> is step 1.</summary>
    public long StepCount { get; private set; }

    /// <summary>
    /// One update of <paramref name="set"/>'s values from its gradients; then <see cref="StepCount"/> is one higher and
    /// <see cref="ParameterSet.MarkChanged"/> has been called. Allocates nothing after the first call.
    /// </summary>
    /// <exception cref="ArgumentException">The optimiser's state belongs to another parameter set.</exception>
    public void Step(ParameterSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (_set is null)
        {
            AllocateState(set.Length);
            _set = set;
        }
        else if (!ReferenceEquals(_set, set))
        {
            ThrowHelper.Argument(nameof(set), "This optimiser's state belongs to another parameter set; create one optimiser per set.");
        }

        StepCount++;
        BeginStep(StepCount);
        Span<float> values = set.Values;
        ReadOnlySpan<float> gradients = set.Gradients;
        if (_excludedRoles.Length == 0 || WeightDecay == 0)
        {
            Update(0, values, gradients, WeightDecay);
        }
        else
        {
            IReadOnlyList<ParameterTensor> tensors = set.Tensors;
            for (int i = 0; i < tensors.Count; i++)
            {
                ParameterTensor t = tensors[i];
                double decay = _excluded[(int)t.Role] ? 0.0 : WeightDecay;
                Update(t.Offset, values.Slice(t.Offset, t.Length), gradients.Slice(t.Offset, t.Length), decay);
            }
        }

        EndStep();
        set.MarkChanged();
    }

    /// <summary>
    /// The state arrays once allocated (none before the first <see cref="Step"/>), under PyTorch's state names
    /// (<c>exp_avg</c>, <c>momentum_buffer</c>, …), each indexed like the bound set's flat arrays. The arrays
    /// themselves, not copies: a checkpoint reads them.
    /// </summary>
    internal IReadOnlyList<(string Name, float[] Buffer)> ExportState() => _set is null ? [] : [.. StateBuffers()];

    /// <summary>
    /// Makes a fresh optimiser continue a run that has taken <paramref name="stepCount"/> ≥ 1 steps on a set shaped
    /// like <paramref name="set"/>: allocates the state, binds it to <paramref name="set"/>, lets
    /// <paramref name="fill"/> write each state array (given its PyTorch name; indexed like the set) and sets
    /// <see cref="StepCount"/>. The next <see cref="Step"/> then gives the bits the original's would have.
    /// </summary>
    internal void ImportState(ParameterSet set, long stepCount, Action<string, float[]> fill)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(fill);
        if (_set is not null)
        {
            ThrowHelper.InvalidOperation("This optimiser has already taken steps; restore state into a fresh one.");
        }

        if (stepCount < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(stepCount), $"Must be at least 1 (a run with no steps has no state), was {stepCount}.");
        }

        AllocateState(set.Length);
        foreach ((string name, float[] buffer) in StateBuffers())
        {
            fill(name, buffer);
        }

        _set = set;
        StepCount = stepCount;
        StateImported();
    }

    /// <summary>Whether the optimiser's state is bound to <paramref name="set"/> (false before the first step).</summary>
    internal bool IsBoundTo(ParameterSet set) => ReferenceEquals(_set, set);

    /// <summary>The allocated state arrays under PyTorch's state names.</summary>
    private protected abstract IEnumerable<(string Name, float[] Buffer)> StateBuffers();

    /// <summary>Called after <see cref="ImportState"/> filled the state (rebuilds flags that follow from it).</summary>
    private protected virtual void StateImported()
    {
    }

    /// <summary>Allocates the state for a set of <paramref name="length"/> floats (zeros, as PyTorch's lazy state).</summary>
    private protected abstract void AllocateState(int length);

    /// <summary>Computes the per-step scalars (learning rate, bias corrections) for step <paramref name="step"/> (1-based).</summary>
    private protected abstract void BeginStep(long step);

    /// <summary>
    /// Updates <paramref name="values"/> from <paramref name="gradients"/>, which start at <paramref name="offset"/> of the
    /// set (the index of the optimiser's state), with weight decay <paramref name="weightDecay"/>.
    /// </summary>
    private protected abstract void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay);

    /// <summary>Called after every tensor of a step has been updated (the first step's momentum rule).</summary>
    private protected virtual void EndStep()
    {
    }

    /// <summary>Throws unless 0 ≤ <paramref name="value"/> &lt; ∞.</summary>
    private protected static void ValidateNonNegative(double value, string paramName)
    {
        if (!(value >= 0) || double.IsPositiveInfinity(value))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"Must be non-negative and finite, was {value}.");
        }
    }

    /// <summary>Throws unless 0 ≤ <paramref name="value"/> &lt; 1 (Adam's betas).</summary>
    private protected static void ValidateUnitInterval(double value, string paramName)
    {
        if (!(value >= 0 && value < 1))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"Must be in [0, 1), was {value}.");
        }
    }

    private static void ValidateLearningRate(double value, string paramName)
    {
        if (!(value >= 0) || double.IsPositiveInfinity(value))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"The learning rate must be non-negative and finite, was {value}.");
        }
    }
}
