//! Settings resolved once: the command line, the environment and the config files into the
//! typed values every mode uses (the console, the headless commands). Precedence, everywhere:
//! the command line, then the config file, then the environment (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`), then the SDK's own chain (profiles, IMDS).

use crate::aws::AwsSettings;
use crate::config::Config;
use crate::model::Environment;

/// What the command line asked for (before config and the environment).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub read_only: bool,
    pub aws: AwsSettings,
    pub env_override: Option<Environment>,
    pub theme: Option<String>,
    pub config_path: Option<std::path::PathBuf>,
    /// `--kubeconfig`, `--context`.
    pub kube: crate::kube::KubeSettings,
}

/// Every setting a mode needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the AWS clients point. `profile` and `region` are `None` only when neither the
    /// command line, config nor the environment names one (the SDK may still find them).
    pub aws: AwsSettings,
    /// `--env`: the environment when config maps neither the account nor the profile.
    pub env_override: Option<Environment>,
    /// The colour theme's name.
    pub theme: String,
    /// Why read-only mode is on from the start (`--read-only`, config), if it is.
    pub read_only: Vec<String>,
    /// The kubeconfig and context the command line named; where it names none, the
    /// kubeconfig is found as kubectl finds it (`KUBECONFIG`, then `~/.kube/config`).
    pub kube: crate::kube::KubeSettings,
    /// The assistant's model and where Bedrock is.
    pub assistant: AssistantSettings,
}

/// `[assistant]` resolved against the session and the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantSettings {
    /// The Bedrock model; the assistant answers offline without one.
    pub model_id: Option<String>,
    /// Bedrock's region: `[assistant] region`, else the session's.
    pub region: Option<String>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Where Bedrock calls go: `[assistant] endpoint_url`, else
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` — even when `--endpoint-url` or `AWS_ENDPOINT_URL`
    /// points the other clients elsewhere. `None`: the session's endpoint, else AWS's own.
    pub endpoint_url: Option<String>,
    pub prices: std::collections::BTreeMap<String, crate::config::ModelPrice>,
}

impl Settings {
    /// Resolve `opts` against `config` and the environment `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn resolve(
        opts: &Options,
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Settings {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let aws = AwsSettings {
            profile: opts
                .aws
                .profile
                .clone()
                .or_else(|| config.aws.profile.clone())
                .or_else(|| env("AWS_PROFILE")),
            region: opts
                .aws
                .region
                .clone()
                .or_else(|| config.aws.region.clone())
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION")),
            endpoint_url: opts
                .aws
                .endpoint_url
                .clone()
                .or_else(|| config.aws.endpoint_url.clone())
                .or_else(|| env("AWS_ENDPOINT_URL")),
            // `[targets]` over the built-in defaults (no flag names these).
            targets: crate::installers::targets::TargetSettings {
                ssh_config: config
                    .targets
                    .ssh_config
                    .clone()
                    .or_else(|| opts.aws.targets.ssh_config.clone()),
                ssm_log_group: config
                    .targets
                    .ssm_log_group
                    .clone()
                    .unwrap_or_else(|| opts.aws.targets.ssm_log_group.clone()),
                ..opts.aws.targets.clone()
            },
            ..opts.aws.clone()
        };
        let mut read_only = Vec::new();
        if opts.read_only {
            read_only.push("started with --read-only".to_string());
        }
        if config.read_only {
            read_only.push(format!(
                "safety.read_only is set in {}",
                config.sources.join(" + ")
            ));
        }
        let a = &config.assistant;
        let assistant = AssistantSettings {
            model_id: a.model_id.clone(),
            region: a.region.clone().or_else(|| aws.region.clone()),
            max_tokens: a.max_tokens,
            temperature: a.temperature,
            endpoint_url: a
                .endpoint_url
                .clone()
                .or_else(|| env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")),
            prices: a.prices.clone(),
        };
        Settings {
            aws,
            assistant,
            env_override: opts.env_override,
            theme: opts.theme.clone().unwrap_or_else(|| config.theme.clone()),
            read_only,
            kube: opts.kube.clone(),
        }
    }

    /// Resolved against the process environment.
    pub fn from_process(opts: &Options, config: &Config) -> Settings {
        Settings::resolve(opts, config, |name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        Config::from_toml_str(toml, std::path::Path::new("/t/config.toml")).expect("parses")
    }

    #[test]
    fn the_command_line_beats_config_which_beats_the_environment() {
        let env = |name: &str| match name {
            "AWS_PROFILE" => Some("from-env".to_string()),
            "AWS_REGION" => Some("eu-west-1".to_string()),
            "AWS_DEFAULT_REGION" => Some("ap-southeast-1".to_string()),
            "AWS_ENDPOINT_URL" => Some("http://env:5000".to_string()),
            _ => None,
        };
        let plain = config("");
        let s = Settings::resolve(&Options::default(), &plain, env);
        assert_eq!(s.aws.profile.as_deref(), Some("from-env"));
        assert_eq!(s.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://env:5000"));

        let configured = config(
            "[aws]\nprofile = \"from-config\"\nregion = \"us-west-2\"\nendpoint_url = \"http://config:5000\"\n",
        );
        let s = Settings::resolve(&Options::default(), &configured, env);
        assert_eq!(s.aws.profile.as_deref(), Some("from-config"));
        assert_eq!(s.aws.region.as_deref(), Some("us-west-2"));
        assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://config:5000"));

        let mut opts = Options::default();
        opts.aws.profile = Some("from-cli".into());
        opts.aws.region = Some("us-east-2".into());
        opts.aws.endpoint_url = Some("http://cli:5000".into());
        opts.theme = Some("light".into());
        let s = Settings::resolve(&opts, &configured, env);
        assert_eq!(s.aws.profile.as_deref(), Some("from-cli"));
        assert_eq!(s.aws.region.as_deref(), Some("us-east-2"));
        assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://cli:5000"));
        assert_eq!(s.theme, "light");
    }

    #[test]
    fn aws_default_region_and_empty_variables() {
        let env = |name: &str| match name {
            "AWS_REGION" => Some(String::new()),
            "AWS_DEFAULT_REGION" => Some("ca-central-1".to_string()),
            "AWS_PROFILE" => Some(String::new()),
            _ => None,
        };
        let s = Settings::resolve(&Options::default(), &config(""), env);
        assert_eq!(s.aws.region.as_deref(), Some("ca-central-1"));
        assert_eq!(s.aws.profile, None, "an empty variable is no value");
    }

    #[test]
    fn bedrocks_own_endpoint_variable_wins_over_the_general_endpoint() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://moto:5000".to_string()),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" => Some("http://bedrock-stub:8080".to_string()),
            "AWS_REGION" => Some("eu-west-1".to_string()),
            _ => None,
        };
        let mut opts = Options::default();
        opts.aws.endpoint_url = Some("http://cli-moto:5000".into());
        let s = Settings::resolve(&opts, &config(""), env);
        assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://cli-moto:5000"));
        assert_eq!(
            s.assistant.endpoint_url.as_deref(),
            Some("http://bedrock-stub:8080"),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME beats --endpoint-url for Bedrock"
        );
        assert_eq!(s.assistant.region.as_deref(), Some("eu-west-1"));
        let own = config(
            "[assistant]\nendpoint_url = \"http://config-bedrock:1\"\nregion = \"us-west-2\"\n",
        );
        let s = Settings::resolve(&opts, &own, env);
        assert_eq!(
            s.assistant.endpoint_url.as_deref(),
            Some("http://config-bedrock:1")
        );
        assert_eq!(s.assistant.region.as_deref(), Some("us-west-2"));
        let none = Settings::resolve(&opts, &config(""), |_| None);
        assert_eq!(
            none.assistant.endpoint_url, None,
            "then the session's endpoint"
        );
    }

    #[test]
    fn read_only_reasons_come_from_the_flag_and_config() {
        let opts = Options {
            read_only: true,
            ..Options::default()
        };
        let s = Settings::resolve(&opts, &config("[safety]\nread_only = true\n"), |_| None);
        assert_eq!(s.read_only.len(), 2);
        assert!(s.read_only[0].contains("--read-only"));
        assert!(s.read_only[1].contains("safety.read_only"));
    }
}
