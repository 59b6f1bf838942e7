namespace Rnn.Simd.Orleans;

/// <summary>
/// One live stream of a recurrent network (a call, a sensor), keyed by the stream's id: each <see cref="Step"/>
/// advances the stream by one time step on whichever silo holds it; the stream's state follows the grain from silo to
/// silo (see <see cref="RecurrentStreamGrain"/>).
/// </summary>
[Alias("Rnn.Simd.Orleans.IRecurrentStreamGrain")]
public interface IRecurrentStreamGrain : IGrainWithStringKey
{
    /// <summary>
    /// One time step: <paramref name="input"/> [X] → the last layer's h [Hout], bit for bit what
    /// <c>RecurrentNetwork.Step</c> gives the stream run alone in one process.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="input"/> does not hold X values.</exception>
    [Alias("Step")]
    Task<float[]> Step(float[] input);

    /// <summary>Sets the stream's state to zero, as at the start of a sequence (and its step count to 0).</summary>
    [Alias("Reset")]
    Task Reset();

    /// <summary>Time steps the stream has taken since it began or was reset, across every silo it has lived on.</summary>
    [Alias("GetSteps")]
    Task<long> GetSteps();

    /// <summary>The silo the stream's activation runs on now.</summary>
    [Alias("GetSilo")]
    Task<SiloAddress> GetSilo();
}
