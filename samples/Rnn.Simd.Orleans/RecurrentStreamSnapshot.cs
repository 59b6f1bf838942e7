namespace Rnn.Simd.Orleans;

/// <summary>
/// The grain state of a <see cref="RecurrentStreamGrain"/>: its stream's state as the engine's own state file
/// (<c>RecurrentStateSerializer</c>: safetensors with h, c for LSTM, the step count and the architecture), so a silo
/// with another network refuses it instead of continuing a stream it cannot continue.
/// </summary>
[GenerateSerializer]
[Alias("Rnn.Simd.Orleans.RecurrentStreamSnapshot")]
public sealed class RecurrentStreamSnapshot
{
    /// <summary>The state file's bytes; null before the stream's first save.</summary>
    [Id(0)]
    public byte[]? State { get; set; }
}
