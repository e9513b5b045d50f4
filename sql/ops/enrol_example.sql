-- How an application enrols a chat, shown by `token create` (:payload and :bot are
-- filled in; the application passes the chat id and username of the Telegram update).
SELECT run_id, deployment_id, ended_previous_run
  FROM profochat_saas.enrol(:payload, chat_id => 123456789, username => 'telegram_username', bot => :bot);
