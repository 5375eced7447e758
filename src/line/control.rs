//! `LineControl`: what chat bridges may ask of the line.

use denwa_chat::{
    Accepted, ApiMeter, ApiService, BoxFuture, CallSummary, LineControl, LineDialing, LineRefused,
    MessageOrigin,
};

use super::Line;
use crate::domain::CallId;
use crate::store::StoreError;

fn unavailable(e: StoreError) -> LineRefused {
    tracing::warn!(error = %e, "a bridge request failed on the store");
    LineRefused::Unavailable
}

impl LineControl for Line {
    fn api_meter(&self, service: ApiService) -> ApiMeter {
        self.metrics().api_meter(service)
    }

    fn say<'a>(
        &'a self,
        call: &'a CallId,
        text: &'a str,
        origin: MessageOrigin,
    ) -> BoxFuture<'a, Result<Accepted, LineRefused>> {
        Box::pin(async move {
            self.queue_message(call, text, origin)
                .await
                .map(|message_id| Accepted { message_id })
        })
    }

    fn hang_up<'a>(&'a self, call: &'a CallId) -> BoxFuture<'a, Result<(), LineRefused>> {
        Box::pin(self.hang_up_call(call))
    }

    fn active_calls(&self) -> BoxFuture<'_, Result<Vec<CallSummary>, LineRefused>> {
        Box::pin(self.active_call_summaries())
    }

    fn call<'a>(
        &'a self,
        call: &'a CallId,
    ) -> BoxFuture<'a, Result<Option<CallSummary>, LineRefused>> {
        Box::pin(async move {
            let call = self.store().call(call).await.map_err(unavailable)?;
            Ok(call.map(|c| self.summary(&c)))
        })
    }

    fn link_thread<'a>(
        &'a self,
        bridge: &'a str,
        call: &'a CallId,
        thread: &'a str,
    ) -> BoxFuture<'a, Result<(), LineRefused>> {
        Box::pin(async move {
            self.store()
                .link_thread(bridge, call, thread)
                .await
                .map_err(unavailable)
        })
    }

    fn thread_of_call<'a>(
        &'a self,
        bridge: &'a str,
        call: &'a CallId,
    ) -> BoxFuture<'a, Result<Option<String>, LineRefused>> {
        Box::pin(async move {
            self.store()
                .thread_of_call(bridge, call)
                .await
                .map_err(unavailable)
        })
    }

    fn call_of_thread<'a>(
        &'a self,
        bridge: &'a str,
        thread: &'a str,
    ) -> BoxFuture<'a, Result<Option<CallId>, LineRefused>> {
        Box::pin(async move {
            self.store()
                .call_of_thread(bridge, thread)
                .await
                .map_err(unavailable)
        })
    }

    fn first_delivery<'a>(
        &'a self,
        bridge: &'a str,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, LineRefused>> {
        Box::pin(async move {
            self.store()
                .first_delivery(bridge, delivery_id)
                .await
                .map_err(unavailable)
        })
    }
}

impl LineDialing for Line {
    fn dial<'a>(&'a self, number: &'a str) -> BoxFuture<'a, Result<CallSummary, LineRefused>> {
        Box::pin(async move {
            match self.dial_out(number).await {
                Ok(call) => Ok(self.summary(&call)),
                Err(super::DialError::BadNumber(m)) => Err(LineRefused::BadNumber(m)),
                Err(super::DialError::NotAllowed(r)) => {
                    Err(LineRefused::NumberNotAllowed(r.to_string()))
                }
                Err(super::DialError::Refused(r)) => Err(r),
                Err(super::DialError::Twilio(m)) => Err(LineRefused::DialFailed(m)),
            }
        })
    }

    fn join_by_phone<'a>(
        &'a self,
        call: &'a CallId,
        bridge: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<String, LineRefused>> {
        Box::pin(async move {
            let line = self.line_of_id(call).await;
            let (index, name) = self
                .responder_of_user(line, bridge, user)
                .ok_or(LineRefused::NotAResponder)?;
            self.join_responder_by_phone(call, index).await?;
            Ok(name)
        })
    }

    fn responder_name(&self, bridge: &str, user: &str) -> Option<String> {
        // A responder of any line: lines may share people.
        self.lines()
            .all()
            .iter()
            .find_map(|line| self.responder_of_user(line, bridge, user))
            .map(|(_, name)| name)
    }
}
