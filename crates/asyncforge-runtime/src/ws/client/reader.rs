//! Who reads a client's socket: the connection task, or the task waiting for a reply.
//!
//! The connection task reads and handles received frames. While a request waits for its
//! reply and no other request of the connection does, the waiting task reads instead
//! ([`WsSender::wait_reply`](super::WsSender::wait_reply)): the reply is decoded and taken on
//! the task that asked for it, so a round trip wakes one task rather than two (the connection
//! task, which then wakes the caller). Both read through the same [`Reader`], under one lock,
//! so frames are handled one at a time and in the order they arrived, whoever reads them.
//!
//! Both poll the socket with one waker of the reader's own (a [`Switch`]) that wakes whoever
//! reads at the time, so the socket changes hands without being polled again: a caller keeps
//! it until its reply is there and gives it back by pointing the switch at the connection
//! task, which the next frame then wakes. Whatever a caller reads but cannot finish without
//! waiting (an event for a full application queue, the end of the connection) is handed back
//! to the connection task, which deals with it before it reads again. A caller that stops
//! being polled while it holds the socket (a future kept but not awaited) loses it at the
//! connection task's next check, at most two [`WATCH`] periods later.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::{Frame, Overflow, Shared};
use crate::rpc::RequestError;

/// How often the connection task checks that a caller holding the socket is still polled.
pub(super) const WATCH: Duration = Duration::from_millis(200);

/// What a client does with each received data frame, whichever task read it: complete a
/// request (`None`), or give the event for the application's queue.
pub(super) trait Handle: Send + 'static {
    /// What the application's queue holds.
    type Event: Send + 'static;
    /// Handles a text or binary frame.
    fn handle(&mut self, message: &Message) -> Option<Self::Event>;
}

/// The handling of [`WsClient::connect_with`](super::WsClient::connect_with): the client's
/// [`Decode`](super::Decode).
pub(super) struct Decoder<D>(pub(super) D);

impl<D: super::Decode> Handle for Decoder<D> {
    type Event = D::Event;

    fn handle(&mut self, message: &Message) -> Option<D::Event> {
        match message {
            Message::Text(t) => self.0.decode(t.as_bytes()),
            Message::Binary(b) => self.0.decode(b),
            _ => None,
        }
    }
}

/// The handling of [`WsClient::connect`](super::WsClient::connect): every frame is an event.
pub(super) struct Frames;

impl Handle for Frames {
    type Event = Frame;

    fn handle(&mut self, message: &Message) -> Option<Frame> {
        match message {
            Message::Text(t) => Some(Frame::Text(t.as_str().to_owned())),
            Message::Binary(b) => Some(Frame::Binary(b.to_vec())),
            _ => None,
        }
    }
}

/// What one read brought.
pub(super) enum Step<E> {
    /// A frame was read and handled.
    Handled,
    /// The application's queue had no room for this event ([`Overflow::Wait`]): the
    /// connection task waits for it.
    Blocked(E),
    /// The application's queue is closed: the client stops.
    Stop,
    /// The connection ended (a close frame, an error, the end of the stream).
    Lost,
    /// No socket (the connection task is reconnecting or has stopped).
    NoSocket,
    /// A caller took the socket: the connection task starts checking on it.
    Watch,
}

/// Who reads.
enum Role {
    /// The connection task.
    Task,
    /// The task behind `token`'s `wait_reply` (the switch's target while it reads); `polled`
    /// since the connection task last checked.
    Caller { token: u64, polled: bool },
}

/// Whether the connection task checks on a caller holding the socket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    Off,
    /// A caller took the socket; the connection task has not started checking yet.
    Wanted,
    On,
}

/// The waker the socket is polled with: it wakes whoever reads it now, the connection task or
/// the caller holding it.
struct Switch {
    state: Mutex<Route>,
}

struct Route {
    /// Who reads now.
    target: Option<Waker>,
    /// The socket signalled since it was last polled.
    fired: bool,
}

impl std::task::Wake for Switch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut route = self.lock();
        route.fired = true;
        if let Some(target) = &route.target {
            target.wake_by_ref();
        }
    }
}

impl Switch {
    fn lock(&self) -> MutexGuard<'_, Route> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before `waker`'s task polls the socket: the socket's signals go to it.
    fn route(&self, waker: &Waker) {
        let mut route = self.lock();
        route.fired = false;
        if !route.target.as_ref().is_some_and(|t| t.will_wake(waker)) {
            route.target = Some(waker.clone());
        }
    }

    /// Wakes whoever reads now.
    fn wake_target(&self) {
        if let Some(target) = &self.lock().target {
            target.wake_by_ref();
        }
    }

    /// Hands the socket to `waker` without polling it: woken at once if the socket signalled
    /// since it was last polled (the signal went to the previous reader), else by the next
    /// signal.
    fn hand_to(&self, waker: Option<&Waker>) {
        let mut route = self.lock();
        route.target = waker.cloned();
        if route.fired
            && let Some(target) = &route.target
        {
            target.wake_by_ref();
        }
    }
}

struct State<H: Handle> {
    /// The handling and the application's queue; `None` while the connection task waits for
    /// room in the queue (nobody reads then) and once it has stopped.
    handler: Option<(H, mpsc::Sender<H::Event>)>,
    /// What happens to an event the queue has no room for.
    overflow: Overflow,
    role: Role,
    /// What a caller read and left to the connection task (never `Handled` or `NoSocket`).
    handback: Option<Step<H::Event>>,
    /// The connection task's waker, from its last poll.
    task: Option<Waker>,
    watch: Watch,
    /// Where the socket's signals go, and the waker it is polled with (the switch's).
    switch: Arc<Switch>,
    socket_waker: Waker,
}

/// The reading side of one client, shared by its connection task and its waiting callers.
pub(super) struct Reader<H: Handle> {
    state: Mutex<State<H>>,
}

impl<H: Handle> State<H> {
    /// Reads the next data frame from the socket and handles it, for the task of `waker`.
    fn read(&mut self, shared: &Shared, waker: &Waker) -> Poll<Step<H::Event>> {
        let Some((handler, events)) = self.handler.as_mut() else {
            return Poll::Ready(Step::NoSocket);
        };
        self.switch.route(waker);
        let mut cx = Context::from_waker(&self.socket_waker);
        loop {
            // Lock order: the reader's state, then the socket (senders take only the socket).
            let item = match shared.socket().as_mut() {
                Some(ws) => ready!(Pin::new(ws).poll_next(&mut cx)),
                None => return Poll::Ready(Step::NoSocket),
            };
            let message = match item {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => m,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    return Poll::Ready(Step::Lost);
                }
                // Pings are answered by tungstenite itself.
                Some(Ok(_)) => continue,
            };
            return Poll::Ready(match handler.handle(&message) {
                None => Step::Handled,
                Some(event) => match events.try_send(event) {
                    Ok(()) => Step::Handled,
                    Err(mpsc::error::TrySendError::Full(_)) if self.overflow == Overflow::Drop => {
                        let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if dropped.is_power_of_two() {
                            tracing::warn!(
                                dropped,
                                "WebSocket client: the queue of received events is full; events are dropped (read them faster, enlarge the queue, or use `Overflow::Wait`)"
                            );
                        }
                        Step::Handled
                    }
                    Err(mpsc::error::TrySendError::Full(event)) => Step::Blocked(event),
                    Err(mpsc::error::TrySendError::Closed(_)) => Step::Stop,
                },
            });
        }
    }

    /// Gives the socket back to the connection task.
    fn give_to_task(&mut self) {
        self.role = Role::Task;
        self.switch.hand_to(self.task.as_ref());
    }

    /// Takes the socket from a caller holding it (woken, to wait for its reply from the
    /// connection task) and gives it to the connection task.
    fn let_caller_go(&mut self) {
        if let Role::Caller { .. } = self.role {
            self.switch.wake_target();
        }
        self.give_to_task();
    }

    /// Leaves `step` (read by a caller) to the connection task and wakes it.
    fn hand_back(&mut self, step: Step<H::Event>) {
        self.give_to_task();
        if !matches!(step, Step::NoSocket) {
            self.handback = Some(step);
            if let Some(task) = &self.task {
                task.wake_by_ref();
            }
        }
    }
}

impl<H: Handle> Reader<H> {
    pub(super) fn new(handler: H, events: mpsc::Sender<H::Event>, overflow: Overflow) -> Arc<Self> {
        let switch = Arc::new(Switch {
            state: Mutex::new(Route {
                target: None,
                fired: false,
            }),
        });
        Arc::new(Reader {
            state: Mutex::new(State {
                handler: Some((handler, events)),
                overflow,
                role: Role::Task,
                handback: None,
                task: None,
                watch: Watch::Off,
                socket_waker: Waker::from(switch.clone()),
                switch,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<H>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection task's next step: what a caller handed back, else a frame read and
    /// handled, or `Pending` while a caller holds the socket.
    pub(super) fn poll_task(&self, shared: &Shared, cx: &mut Context<'_>) -> Poll<Step<H::Event>> {
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(step) = st.handback.take() {
            return Poll::Ready(step);
        }
        if !st.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            st.task = Some(cx.waker().clone());
        }
        if let Role::Caller { .. } = st.role {
            if st.watch == Watch::Wanted {
                st.watch = Watch::On;
                return Poll::Ready(Step::Watch);
            }
            return Poll::Pending;
        }
        st.read(shared, cx.waker())
    }

    /// Waits for room in the application's queue for `event` (the connection task; nobody
    /// reads meanwhile). `false` when the queue is closed.
    pub(super) async fn deliver(&self, event: H::Event) -> bool {
        let Some((handler, events)) = self.lock().handler.take() else {
            return false;
        };
        let delivered = events.send(event).await.is_ok();
        self.lock().handler = Some((handler, events));
        delivered
    }

    /// The connection task's periodic check on a caller holding the socket: one not polled
    /// since the last check loses it (and is woken, to wait for its reply from the
    /// connection task). Returns whether to check again.
    pub(super) fn check(&self) -> bool {
        let mut guard = self.lock();
        let st = &mut *guard;
        match &mut st.role {
            Role::Caller { polled, .. } if *polled => {
                *polled = false;
                true
            }
            _ => {
                st.let_caller_go();
                st.watch = Watch::Off;
                false
            }
        }
    }

    /// The connection is gone: a caller holding the socket lets go of it (and is woken);
    /// what it handed back about the old connection is dropped. With `stop`, the handling
    /// and the application's queue are dropped too (the application sees its end).
    pub(super) fn reset(&self, stop: bool) {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.let_caller_go();
        st.watch = Watch::Off;
        if matches!(st.handback, Some(Step::Lost)) {
            st.handback = None;
        }
        if stop {
            st.handler = None;
            st.handback = None;
        }
    }
}

/// What a waiting caller can do with the socket ([`Reader`] without its handling's type).
pub(super) trait Turn: Send + Sync {
    /// Reads on the caller's task: takes the socket if the connection task has it, this is
    /// the only request waiting and nothing is left for the connection task; then reads and
    /// handles one frame. `Ready(true)`: a frame was handled (look for the reply);
    /// `Ready(false)`: the caller does not read (it waits for the connection task);
    /// `Pending`: it holds the socket and the next frame wakes it.
    fn poll_turn(&self, shared: &Shared, token: u64, cx: &mut Context<'_>) -> Poll<bool>;
    /// Gives the socket back to the connection task, if `token` holds it.
    fn release(&self, token: u64);
}

impl<H: Handle> Turn for Reader<H> {
    fn poll_turn(&self, shared: &Shared, token: u64, cx: &mut Context<'_>) -> Poll<bool> {
        let mut guard = self.lock();
        let st = &mut *guard;
        match &mut st.role {
            Role::Caller { token: t, polled } if *t == token => *polled = true,
            Role::Caller { .. } => return Poll::Ready(false),
            Role::Task => {
                if st.handler.is_none()
                    || st.handback.is_some()
                    || shared.waiting.load(Ordering::Acquire) != 1
                {
                    return Poll::Ready(false);
                }
                st.role = Role::Caller {
                    token,
                    polled: true,
                };
                if st.watch == Watch::Off {
                    st.watch = Watch::Wanted;
                    if let Some(task) = &st.task {
                        task.wake_by_ref();
                    }
                }
            }
        }
        match ready!(st.read(shared, cx.waker())) {
            Step::Handled => Poll::Ready(true),
            step => {
                st.hand_back(step);
                Poll::Ready(false)
            }
        }
    }

    fn release(&self, token: u64) {
        let mut guard = self.lock();
        if matches!(guard.role, Role::Caller { token: t, .. } if t == token) {
            guard.give_to_task();
        }
    }
}

/// [`WsSender::wait_reply`](super::WsSender::wait_reply)'s future: the reply from the
/// request's receiver, read by this task itself while it may.
pub(super) struct ReplyRead<'a, T> {
    shared: &'a Shared,
    reader: &'a dyn Turn,
    rx: oneshot::Receiver<Result<T, RequestError>>,
    token: u64,
    /// This future may hold the socket (it read, or waits to read).
    holds: bool,
}

impl<'a, T> ReplyRead<'a, T> {
    pub(super) fn new(
        shared: &'a Shared,
        reader: &'a dyn Turn,
        rx: oneshot::Receiver<Result<T, RequestError>>,
    ) -> Self {
        shared.waiting.fetch_add(1, Ordering::AcqRel);
        ReplyRead {
            shared,
            reader,
            rx,
            token: shared.tokens.fetch_add(1, Ordering::Relaxed),
            holds: false,
        }
    }

    /// Gives the socket back if this future may hold it.
    fn let_go(&mut self) {
        if std::mem::take(&mut self.holds) {
            self.reader.release(self.token);
        }
    }
}

impl<T> Future for ReplyRead<'_, T> {
    type Output = Result<T, RequestError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            // Without registering a waker: while this task reads, it completes its own
            // request, and a wake-up of itself would only poll it once more for nothing.
            let done = match this.rx.try_recv() {
                Ok(answer) => answer,
                Err(oneshot::error::TryRecvError::Closed) => Err(RequestError::Closed),
                Err(oneshot::error::TryRecvError::Empty) => {
                    match this.reader.poll_turn(this.shared, this.token, cx) {
                        Poll::Pending => {
                            this.holds = true;
                            return Poll::Pending;
                        }
                        Poll::Ready(true) => {
                            this.holds = true;
                            continue;
                        }
                        Poll::Ready(false) => {
                            this.holds = false;
                            break;
                        }
                    }
                }
            };
            this.let_go();
            return Poll::Ready(done);
        }
        Pin::new(&mut this.rx)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(RequestError::Closed)))
    }
}

impl<T> Drop for ReplyRead<'_, T> {
    fn drop(&mut self) {
        self.let_go();
        self.shared.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    //! A client made with `connect_with` against a raw tokio-tungstenite peer on loopback.
    //! Frames are text: `req:N` (client → peer), `reply:N` completes request `N`, `refuse:N`
    //! refuses it, any other frame from the peer is an event.

    use std::sync::Arc;

    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpListener;

    use super::super::{ClientConfig, Decode, State, WsClient, WsSender};
    use super::*;
    use crate::rpc::{CorrelationKey, Pending};

    type Peer = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    /// Which task decoded each frame.
    type Seen = Arc<Mutex<Vec<(String, Option<tokio::task::Id>)>>>;

    struct Test {
        pending: Pending<String>,
        seen: Seen,
    }

    impl Decode for Test {
        type Event = String;

        fn decode(&mut self, data: &[u8]) -> Option<String> {
            let text = String::from_utf8_lossy(data).into_owned();
            self.seen
                .lock()
                .expect("seen")
                .push((text.clone(), tokio::task::try_id()));
            if let Some(id) = text.strip_prefix("refuse:") {
                let key = Some(CorrelationKey::Text(id.to_owned()));
                return self.pending.refuse(0, key, text.clone()).err();
            }
            match text.strip_prefix("reply:") {
                Some(id) => {
                    let key = Some(CorrelationKey::Text(id.to_owned()));
                    let _ = self.pending.complete(0, key, text);
                    None
                }
                None => Some(text),
            }
        }
    }

    struct Client {
        tx: WsSender,
        events: mpsc::Receiver<String>,
        pending: Pending<String>,
        seen: Seen,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Client {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Client {
        async fn request(&self, id: &str, timeout: Duration) -> Result<String, RequestError> {
            let waiter = self
                .pending
                .register(0, Some(CorrelationKey::Text(id.to_owned())))?;
            self.tx
                .send(Frame::Text(format!("req:{id}")))
                .map_err(|e| RequestError::Send(e.to_string()))?;
            self.tx.wait_reply(waiter, timeout).await
        }

        /// The task that decoded `frame` (its last occurrence).
        fn decoded_on(&self, frame: &str) -> Option<tokio::task::Id> {
            let seen = self.seen.lock().expect("seen");
            let (_, id) = seen
                .iter()
                .rev()
                .find(|(f, _)| f == frame)
                .expect("decoded");
            *id
        }

        /// The connection task's id.
        fn connection_task(&self) -> Option<tokio::task::Id> {
            Some(self.task.id())
        }

        async fn event(&mut self) -> String {
            tokio::time::timeout(Duration::from_secs(5), self.events.recv())
                .await
                .expect("an event within 5 s")
                .expect("the client is running")
        }
    }

    async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}/", listener.local_addr().expect("addr"));
        (listener, url)
    }

    async fn accept(listener: &TcpListener) -> Peer {
        let (tcp, _) = listener.accept().await.expect("accept");
        tokio_tungstenite::accept_async(tcp).await.expect("upgrade")
    }

    /// A connected client whose events queue holds `events` frames.
    async fn client(listener: &TcpListener, url: &str, events: usize) -> (Client, Peer) {
        let (events_tx, events_rx) = mpsc::channel(events);
        let pending = Pending::default();
        let seen = Seen::default();
        let config = ClientConfig {
            backoff: crate::backoff::Backoff {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
                ..Default::default()
            },
            // These tests look at events a full queue holds back.
            overflow: Overflow::Wait,
            ..Default::default()
        };
        let dispatch = Test {
            pending: pending.clone(),
            seen: seen.clone(),
        };
        let (tx, task) = WsClient::connect_with(url, config, events_tx, move |_| dispatch);
        let peer = accept(listener).await;
        let client = Client {
            tx,
            events: events_rx,
            pending,
            seen,
            task,
        };
        client
            .tx
            .wait_for(|s| matches!(s, State::Connected { .. }))
            .await;
        (client, peer)
    }

    async fn next_text(peer: &mut Peer) -> String {
        match tokio::time::timeout(Duration::from_secs(5), peer.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => t.as_str().to_owned(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Gives a request that was just sent the moment it needs to take the socket (it does so
    /// right after sending; a peer answering faster than that would meet the connection task,
    /// which is correct too, but not what these tests look at).
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    async fn send_all(peer: &mut Peer, frames: &[&str]) {
        for f in frames {
            peer.send(Message::text(*f)).await.expect("peer send");
        }
    }

    /// The peer, on a task of its own: waits for `request`, then sends `frames`.
    fn answering(
        mut peer: Peer,
        request: &'static str,
        frames: &'static [&'static str],
    ) -> tokio::task::JoinHandle<Peer> {
        tokio::spawn(async move {
            assert_eq!(next_text(&mut peer).await, request);
            settle().await;
            send_all(&mut peer, frames).await;
            peer
        })
    }

    /// Runs `test` on a task of its own (a test's body has no task id).
    async fn on_a_task(test: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(test).await.expect("the test's task");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_request_decodes_its_own_reply_and_events_keep_their_order() {
        on_a_task(a_lone_request()).await;
    }

    async fn a_lone_request() {
        let (listener, url) = listen().await;
        let (mut client, peer) = client(&listener, &url, 16).await;
        let answer = answering(peer, "req:1", &["a", "b", "reply:1", "c"]);
        let reply = client.request("1", Duration::from_secs(5)).await;
        assert_eq!(reply, Ok("reply:1".to_owned()));
        assert_eq!(
            client.decoded_on("reply:1"),
            tokio::task::try_id(),
            "the reply was decoded on the task that waited for it"
        );
        for expected in ["a", "b", "c"] {
            assert_eq!(client.event().await, expected);
        }
        let mut peer = answer.await.expect("peer");

        // The connection task reads again once the request is done: an event with no
        // request waiting arrives, decoded elsewhere.
        send_all(&mut peer, &["d"]).await;
        assert_eq!(client.event().await, "d");
        assert_eq!(client.decoded_on("d"), client.connection_task());

        // And the next request reads its own reply again.
        let answer = answering(peer, "req:2", &["reply:2"]);
        assert_eq!(
            client.request("2", Duration::from_secs(5)).await,
            Ok("reply:2".to_owned())
        );
        assert_eq!(client.decoded_on("reply:2"), tokio::task::try_id());
        drop(answer.await.expect("peer"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_request_takes_its_refusal_where_it_waits() {
        on_a_task(async {
            let (listener, url) = listen().await;
            let (client, peer) = client(&listener, &url, 16).await;
            let answer = answering(peer, "req:1", &["refuse:1"]);
            let refused = client.request("1", Duration::from_secs(5)).await;
            assert_eq!(refused, Err(RequestError::Refused("refuse:1".to_owned())));
            assert_eq!(
                client.decoded_on("refuse:1"),
                tokio::task::try_id(),
                "the refusal was decoded on the task that waited for it"
            );
            // A request that waits without reading (`Waiter::wait`): the connection task reads
            // the refusal and completes it.
            let peer = answer.await.expect("peer");
            let answer = answering(peer, "req:2", &["refuse:2"]);
            let waiter = client
                .pending
                .register(0, Some(CorrelationKey::Text("2".to_owned())))
                .expect("registered");
            client
                .tx
                .send(Frame::Text("req:2".to_owned()))
                .expect("sent");
            let refused = waiter.wait(Duration::from_secs(5)).await;
            assert_eq!(refused, Err(RequestError::Refused("refuse:2".to_owned())));
            assert_eq!(client.decoded_on("refuse:2"), client.connection_task());
            drop(answer.await.expect("peer"));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_a_waiting_caller_cannot_queue_go_to_the_connection_task_in_order() {
        on_a_task(events_handed_back()).await;
    }

    async fn events_handed_back() {
        let (listener, url) = listen().await;
        // Room for one event: the caller queues the first, hands the second back.
        let (mut client, peer) = client(&listener, &url, 1).await;
        let answer = answering(peer, "req:1", &["a", "b", "c", "reply:1", "d"]);
        let mut events = std::mem::replace(&mut client.events, mpsc::channel(1).1);
        let reader = tokio::spawn(async move {
            // The application reads late: the queue is full meanwhile.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut got = Vec::new();
            while got.len() < 4 {
                match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
                    Ok(Some(e)) => got.push(e),
                    other => panic!("expected an event, got {other:?}"),
                }
            }
            got
        });
        let reply = client.request("1", Duration::from_secs(5)).await;
        assert_eq!(reply, Ok("reply:1".to_owned()));
        assert_eq!(reader.await.expect("reader"), ["a", "b", "c", "d"]);
        // The caller decoded the first two; the connection task waited for room for the
        // second, then read on: the reply came behind the events the caller could not queue.
        assert_eq!(client.decoded_on("a"), tokio::task::try_id());
        assert_eq!(client.decoded_on("b"), tokio::task::try_id());
        assert_eq!(client.decoded_on("reply:1"), client.connection_task());
        drop(answer.await.expect("peer"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_hands_the_socket_back() {
        let (listener, url) = listen().await;
        let (mut client, mut peer) = client(&listener, &url, 16).await;
        // No answer: the request times out while it holds the socket.
        let reply = client.request("1", Duration::from_millis(100)).await;
        assert_eq!(
            reply,
            Err(RequestError::Timeout(Duration::from_millis(100)))
        );
        assert_eq!(next_text(&mut peer).await, "req:1");
        // The late reply and an event are read by the connection task.
        send_all(&mut peer, &["reply:1", "e"]).await;
        assert_eq!(client.event().await, "e");
        assert_eq!(client.decoded_on("e"), client.connection_task());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_left_unpolled_loses_the_socket_to_the_connection_task() {
        let (listener, url) = listen().await;
        let (mut client, mut peer) = client(&listener, &url, 16).await;
        let mut events = std::mem::replace(&mut client.events, mpsc::channel(1).1);
        let request = client.request("1", Duration::from_secs(30));
        tokio::pin!(request);
        // Polled once: it sent its frame and took the socket; then nobody polls it.
        let first = std::future::poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        assert_eq!(next_text(&mut peer).await, "req:1");
        send_all(&mut peer, &["x", "reply:1"]).await;
        // The connection task takes the socket back at its second check at the latest.
        let x = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert_eq!(x, Ok(Some("x".to_owned())));
        assert_eq!(client.decoded_on("x"), client.connection_task());
        // Polled again, the request gets its reply (read by the connection task, or by the
        // request itself if it took the socket again first).
        assert_eq!(request.await, Ok("reply:1".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_under_a_waiting_caller_comes_back() {
        let (listener, url) = listen().await;
        let (client, mut peer) = client(&listener, &url, 16).await;
        let request = client.request("1", Duration::from_millis(500));
        let close = async {
            assert_eq!(next_text(&mut peer).await, "req:1");
            // The caller reads the close frame: the connection task reconnects.
            peer.close(None).await.expect("close");
        };
        let (reply, ()) = tokio::join!(request, close);
        assert_eq!(
            reply,
            Err(RequestError::Timeout(Duration::from_millis(500)))
        );
        let mut peer = accept(&listener).await;
        client
            .tx
            .wait_for(|s| matches!(s, State::Connected { generation: 2 }))
            .await;
        let answer = tokio::spawn(async move {
            assert_eq!(next_text(&mut peer).await, "req:2");
            send_all(&mut peer, &["reply:2"]).await;
            peer
        });
        assert_eq!(
            client.request("2", Duration::from_secs(5)).await,
            Ok("reply:2".to_owned())
        );
        drop(answer.await.expect("peer"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_each_get_their_reply() {
        let (listener, url) = listen().await;
        let (client, mut peer) = client(&listener, &url, 16).await;
        let client = Arc::new(client);
        let answer = tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..20 {
                ids.push(next_text(&mut peer).await.replace("req:", "reply:"));
            }
            // In reverse order, so replies go to others than the reader.
            for id in ids.iter().rev() {
                peer.send(Message::text(id.as_str())).await.expect("send");
            }
            peer
        });
        let requests: Vec<_> = (0..20)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(
                    async move { client.request(&i.to_string(), Duration::from_secs(5)).await },
                )
            })
            .collect();
        for (i, r) in requests.into_iter().enumerate() {
            assert_eq!(r.await.expect("request"), Ok(format!("reply:{i}")));
        }
        drop(answer.await.expect("peer"));
    }
}
