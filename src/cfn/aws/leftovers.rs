//! What a change that stopped half-way may leave in AWS, and the exact commands that remove it.
//! Every message that says "left in AWS" is built here, so they all name the same things.

use crate::aws::calls::cli_args;

/// What is (or may be) left of a change set this job created.
pub(crate) struct ChangeSetLeft<'a> {
    /// The change set's ARN, or its name when the ARN is unknown.
    pub change_set: &'a str,
    pub stack_name: &'a str,
    /// The stack's ARN when known, else its name.
    pub stack: &'a str,
    /// The change set is (or may be) still there.
    pub change_set_left: bool,
    /// A new stack's empty `REVIEW_IN_PROGRESS` shell is (or may be) still there.
    pub empty_stack_left: bool,
    /// `false`: it is not known whether AWS made them at all.
    pub certain: bool,
}

impl ChangeSetLeft<'_> {
    /// `None` when nothing is left.
    pub fn note(&self, cli: &str) -> Option<String> {
        let mut things = Vec::new();
        let mut commands = Vec::new();
        if self.change_set_left {
            things.push(format!(
                "change set {} of stack {}",
                self.change_set, self.stack_name
            ));
            let stack_arg = if self.change_set.starts_with("arn:") {
                String::new()
            } else {
                format!(" --stack-name {}", self.stack)
            };
            commands.push(format!(
                "`aws cloudformation delete-change-set --change-set-name {}{stack_arg}{cli}`",
                self.change_set
            ));
        }
        if self.empty_stack_left {
            things.push(format!(
                "the empty REVIEW_IN_PROGRESS stack {}",
                self.stack_name
            ));
            commands.push(format!(
                "`aws cloudformation delete-stack --stack-name {}{cli}` (only while it is REVIEW_IN_PROGRESS: it holds no resources)",
                self.stack
            ));
        }
        if things.is_empty() {
            return None;
        }
        Some(format!(
            "{} in AWS: {}. Remove with {}",
            if self.certain { "Left" } else { "May be left" },
            things.join(" and "),
            commands.join(", then ")
        ))
    }
}

/// A change CloudFormation accepted goes on without us: how to check it.
pub(crate) fn goes_on(target: &crate::ops::StackTarget, endpoint: Option<&str>) -> String {
    format!(
        "The change to {} may go on in CloudFormation: check it with `aws cloudformation describe-stacks --stack-name {}{}`",
        target.stack_name,
        target.stack_id,
        cli_args(Some(&target.region), endpoint)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_name_the_change_set_the_stack_and_the_commands() {
        let left = ChangeSetLeft {
            change_set: "arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-1/abc",
            stack_name: "web",
            stack: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1",
            change_set_left: true,
            empty_stack_left: true,
            certain: true,
        };
        let cli = cli_args(Some("us-east-1"), Some("http://127.0.0.1:5000"));
        assert_eq!(
            left.note(&cli).as_deref(),
            Some(
                "Left in AWS: change set arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-1/abc of stack web and the empty REVIEW_IN_PROGRESS stack web. Remove with `aws cloudformation delete-change-set --change-set-name arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-1/abc --region us-east-1 --endpoint-url http://127.0.0.1:5000`, then `aws cloudformation delete-stack --stack-name arn:aws:cloudformation:us-east-1:123456789012:stack/web/1 --region us-east-1 --endpoint-url http://127.0.0.1:5000` (only while it is REVIEW_IN_PROGRESS: it holds no resources)"
            )
        );
        let by_name = ChangeSetLeft {
            change_set: "opsdeck-1",
            stack: "web",
            empty_stack_left: false,
            certain: false,
            ..left
        };
        assert_eq!(
            by_name.note(" --region us-east-1").as_deref(),
            Some(
                "May be left in AWS: change set opsdeck-1 of stack web. Remove with `aws cloudformation delete-change-set --change-set-name opsdeck-1 --stack-name web --region us-east-1`"
            )
        );
        let nothing = ChangeSetLeft {
            change_set_left: false,
            empty_stack_left: false,
            ..by_name
        };
        assert_eq!(nothing.note(""), None);
    }
}
