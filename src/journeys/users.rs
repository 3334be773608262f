//! The Goose user a visit's requests go through. A Goose user is about 2 KiB with its copy of
//! Goose's configuration, and a visit needs one only while a request is on the wire: an elastic
//! run's visits borrow one from a shared stock for each request, so 50,000 visits thinking between
//! pages hold none, and the stock grows only to the requests in flight at once.

use std::sync::Mutex;

use goose::goose::{GooseRequest, GooseResponse, TransactionError};
use goose::metrics::GooseRequestMetric;
use goose::prelude::GooseUser;

/// Goose users lent out one request at a time, each a copy of the user Goose launched.
pub struct UserStock {
    template: GooseUser,
    /// Boxed, so lending one moves a pointer, not 2 KiB, in and out of the list.
    #[allow(clippy::vec_box)]
    spare: Mutex<Vec<Box<GooseUser>>>,
}

impl UserStock {
    pub fn new(template: GooseUser) -> Self {
        Self {
            template,
            spare: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Box<GooseUser> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| Box::new(self.template.clone()))
    }

    fn give_back(&self, user: Box<GooseUser>) {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(user);
    }
}

/// Whose Goose user a visit sends through.
pub enum Users<'a> {
    /// A pooled run's: the user Goose launched and hands the visit, whose report counts it.
    Own(&'a mut GooseUser),
    /// An elastic run's: one lent from the stock for each request.
    Lent(&'a UserStock),
}

impl Users<'_> {
    /// The HTTP client every user of the run shares.
    pub fn client(&self) -> &reqwest::Client {
        match self {
            Users::Own(user) => &user.client,
            Users::Lent(stock) => &stock.template.client,
        }
    }

    /// Send `request` through a Goose user. A lent user goes back to the stock when the reply is
    /// in; one whose request is abandoned (the run was interrupted) is simply dropped.
    pub async fn request(
        &mut self,
        request: GooseRequest<'_>,
    ) -> Result<GooseResponse, Box<TransactionError>> {
        match self {
            Users::Own(user) => user.request(request).await,
            Users::Lent(stock) => {
                let mut user = stock.take();
                let sent = user.request(request).await;
                stock.give_back(user);
                sent
            }
        }
    }

    /// Tell Goose a reply it counted as a success failed the journey's checks. Only a pooled run's
    /// Goose keeps metrics; an elastic run's has nothing to correct.
    pub fn set_failure(&mut self, reason: &str, metric: &mut GooseRequestMetric) {
        if let Users::Own(user) = self {
            let _ = user.set_failure(reason, metric, None, None);
        }
    }
}
