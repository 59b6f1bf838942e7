using System.Threading.Tasks.Sources;

namespace Rnn.Simd.Serving;

public sealed partial class AsyncStreamBatcher
{
    private enum RequestState
    {
        Created,          // being registered by StepAsync
        CancelledEarly,   // its token fired while StepAsync was registering it
        Queued,           // in its stream's queue
        Running,          // in the batch being run
        Done,             // completed, or about to be
    }

    /// <summary>
    /// One pending step: the pooled source of a <see cref="StepAsync"/> task. It goes back to the pool when its result
    /// is read, so a step allocates nothing in steady state.
    /// </summary>
    private sealed class StepRequest(AsyncStreamBatcher owner) : IValueTaskSource
    {
        // By default continuations run on the thread pool, never inline on the loop's thread (or on a cancelling
        // thread); AsyncStreamBatcherOptions.RunContinuationsAsynchronously = false runs them inline.
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = owner._continueAsynchronously };

        public AsyncStreamBatcher Owner { get; } = owner;

        public StreamId Stream;
        public ReadOnlyMemory<float> Input;
        public Memory<float> Output;
        public CancellationToken Token;
        public CancellationTokenRegistration Registration;
        public RequestState State;
        public bool Removed;                    // its stream was removed before its batch ran
        public StepRequest? Previous, Next;     // its stream's queue

        public short Version => _core.Version;

        /// <summary>Completes the task (outside every lock: disposing the registration may wait for a running callback).</summary>
        public void Complete(Exception? error)
        {
            Registration.Dispose();
            Registration = default;
            Input = default;
            Output = default;
            Token = default;
            if (error is null)
            {
                _core.SetResult(true);
            }
            else
            {
                _core.SetException(error);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Removed = false;
                Owner.Return(this);
            }
        }
    }
}
