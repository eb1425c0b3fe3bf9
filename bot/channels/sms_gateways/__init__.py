"""SMS gateways behind one interface (`base.SmsGateway`): Kavenegar and Twilio."""

from bot.channels.sms_gateways.base import GatewayError, SendResult, SmsGateway, segment_info  # noqa: F401
