using System.Text.Json.Serialization;
using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A time-series forecaster: x_t [X] → unidirectional recurrent stack → linear head predicting x_{t+1} [X].
/// JSON kind <c>forecaster</c>. Parameters: the stack's PyTorch tensors <c>rnn.*</c>, then <c>head.weight</c> [X, Hout]
/// and <c>head.bias</c> [X].
/// </summary>
public sealed record ForecasterOptions : GenerativeModelOptions
{
    /// <summary>Features per time step X (inputs and predictions).</summary>
    public required int InputSize { get; init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public override int StepFeatures => InputSize;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> ParameterSpecs()
    {
        Validate();
        RecurrentNetworkOptions stack = Stack;
        return StackWithHead.Specs(stack, stack.OutputSize, InputSize);
    }

    /// <inheritdoc/>
    public override SequenceModel CreateModel() => Forecaster.Create(this);

    /// <inheritdoc/>
    public override void Validate()
    {
        RequirePositive(InputSize, nameof(InputSize));
        ValidateStack();
    }
}

/// <summary>
/// A forecaster for training (<see cref="ForecasterOptions"/>): stateful truncated BPTT on chunks of a series, as
/// <see cref="LanguageModel"/> trains on text, with the mean squared error of the next-step predictions.
/// </summary>
/// <remarks>
/// <see cref="ForwardBackward"/> runs inputs [T, B, X] from the carried state (a constant for backward), L = mean over
/// T·B·X of (ŷ − target)², then backward, adding dL/d(every parameter) into <see cref="SequenceModel.Parameters"/>.
/// Chunks of one size allocate nothing after the first; driven by one thread at a time.
/// </remarks>
public sealed class Forecaster : StatefulSequenceModel
{
    /// <summary>Binds a forecaster to <c>rnn.*</c> and <c>head.*</c> of <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or a tensor is missing or has the wrong shape.</exception>
    public Forecaster(ForecasterOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters, Valid(options).Stack, options.InputSize, 0, pool)
    {
    }

    /// <summary>The architecture.</summary>
    public new ForecasterOptions Options => (ForecasterOptions)base.Options;

    /// <summary>
    /// A model with a new parameter set: zeros (to load weights into), or with <paramref name="seed"/> PyTorch's default
    /// initialisation (<see cref="Initializers.Apply"/>; embeddings N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static Forecaster Create(ForecasterOptions options, ulong? seed = null, ArrayPool<float>? pool = null) =>
        new(options, CreateParameters(options, seed), pool);

    /// <summary>One stateful training step: forward, mean squared error, backward (gradients added), state carried.</summary>
    /// <param name="inputs">x [T, B, X], time-major.</param>
    /// <param name="targets">The values to predict [T, B, X] (usually x shifted by one step).</param>
    /// <param name="steps">T ≥ 1.</param>
    /// <param name="batch">B ≥ 1; the carried batch unless the state was reset.</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T: steps at or past a sequence's length are
    /// padding, neither counted in the mean nor given a gradient, and its carried state is the one after its last valid
    /// step (the loss and gradients are those of the unpadded sequences).</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <returns>The mean squared error over the valid steps (<see cref="TrainingResult.Loss"/>; a forecaster counts no classes).</returns>
    /// <exception cref="ArgumentException">A size is off, a length is outside [0, T], or the batch differs from the carried one.</exception>
    public TrainingResult ForwardBackward(
        ReadOnlySpan<float> inputs, int steps, int batch, ReadOnlySpan<float> targets, ReadOnlySpan<int> lengths = default, ThreadTeam? threads = null)
    {
        int x = Options.InputSize;
        LanguageModel.ValidateChunk(steps, batch, inputs.Length, x, nameof(inputs), "T·B·X");
        ThrowHelper.ThrowIfLengthIsNot(targets.Length, nameof(targets), "T·B·X", steps, batch, x);
        ModelParts.ValidateLengths(lengths, steps, batch);
        State.Prepare(batch, nameof(batch));

        inputs.CopyTo(Core.Input(steps, batch));
        Span<float> prediction = ForwardChunk(threads, lengths);
        double loss = lengths.IsEmpty
            ? Losses.MeanSquaredError(prediction, targets, Core.OutputGradient)
            : Losses.MeanSquaredError(prediction, targets, Core.OutputGradient, steps, batch, lengths);
        Core.Backward(default, default, inputGradient: false, threads);
        State.Advance();
        return new TrainingResult(loss, 0, 0);
    }

    /// <summary>An immutable snapshot of the current parameters for forecasting (safe to share between threads).</summary>
    public ForecasterInference ToInference() => new(Options, Network.ToInferenceNetwork(), Head.ToInferenceLayer());

}

/// <summary>
/// An immutable forecaster for inference, safe to share between threads; each caller rolls out through its own
/// <see cref="ForecastStream"/> (<see cref="CreateStream"/>).
/// </summary>
public sealed class ForecasterInference
{
    /// <summary>Assembles a forecaster from inference parts whose sizes fit <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">A part does not fit the options.</exception>
    public ForecasterInference(ForecasterOptions options, RecurrentNetwork network, DenseLayer head)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(head);
        options.Validate();
        if (!network.Options.Equals(options.Stack))
        {
            ThrowHelper.Argument(nameof(network), "The network's architecture differs from the options'.");
        }

        if (head.Inputs != network.Options.OutputSize || head.Outputs != options.InputSize || head.Activation != OutputActivation.Identity)
        {
            ThrowHelper.Argument(nameof(head), $"Expected an identity head {network.Options.OutputSize} → {options.InputSize}.");
        }

        Options = options;
        Network = network;
        Head = head;
    }

    /// <summary>The architecture.</summary>
    public ForecasterOptions Options { get; }

    /// <summary>The recurrent stack.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>The linear head.</summary>
    public DenseLayer Head { get; }

    /// <summary>A forecast (prime on a history, roll out predictions fed back) with its own state and scratch.</summary>
    public ForecastStream CreateForecast() => new(this);

    /// <summary>A stream of <paramref name="batch"/> series over the model: feed steps, read each series' next values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">batch &lt; 1.</exception>
    public ModelStream CreateStream(int batch = 1) => new(null, Network, Head, batch);
}

/// <summary>
/// One caller's forecast: <see cref="Prime"/> on a history, then <see cref="Rollout"/> predicts the next steps,
/// each prediction fed back as the next input (one-to-many). Deterministic; not thread-safe; a rolled-out step
/// allocates nothing after warm-up.
/// </summary>
public sealed class ForecastStream
{
    private readonly ModelStream _stream;
    private readonly float[] _input;

    internal ForecastStream(ForecasterInference model)
    {
        Model = model;
        _stream = new ModelStream(null, model.Network, model.Head, 1);
        _input = new float[model.Options.InputSize];
    }

    /// <summary>The shared model.</summary>
    public ForecasterInference Model { get; }

    /// <summary>The stack's state after every step fed so far.</summary>
    public RecurrentState State => _stream.State;

    /// <summary>The prediction of the next step [X] (valid once primed).</summary>
    public ReadOnlySpan<float> Prediction => _stream.Output;

    /// <summary>Starts over from zero state.</summary>
    public void Reset() => _stream.Reset();

    /// <summary>Feeds <paramref name="steps"/> observed steps [steps, X] (continuing from the current state).</summary>
    /// <exception cref="ArgumentException">steps &lt; 1 or the history does not hold steps·X values.</exception>
    public void Prime(ReadOnlySpan<float> history, int steps, ThreadTeam? threads = null)
    {
        if (steps < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(steps), $"Must be at least 1, was {steps}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(history.Length, nameof(history), "steps·X", steps, Model.Options.InputSize);
        _stream.Run(history, steps, threads);
    }

    /// <summary>Writes the next N steps [N, X] into <paramref name="output"/>, feeding each prediction back as the next input.</summary>
    /// <exception cref="ArgumentException">The output does not hold a whole number of steps.</exception>
    /// <exception cref="InvalidOperationException">Nothing has been fed (prime first).</exception>
    public void Rollout(Span<float> output, ThreadTeam? threads = null)
    {
        int x = Model.Options.InputSize;
        if (output.Length % x != 0)
        {
            ThrowHelper.Argument(nameof(output), $"Expected N·X values with X = {x}, got {output.Length}.");
        }

        _stream.RequireOutput();
        for (int n = 0; n < output.Length / x; n++)
        {
            _stream.Output.CopyTo(_input);
            _input.CopyTo(output.Slice(n * x, x));
            _stream.Step(_input, threads);
        }
    }
}
